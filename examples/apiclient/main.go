// Command apiclient is an example native-app client of Latch's JSON API
// (/api/v1, README "Apps"), in Go with the standard library only. It signs
// in with an email and a password read from standard input (never from
// the command line, where other users could see it), shows the signed-in
// user and their sessions, and signs out:
//
//	echo "$PASSWORD" | go run ./examples/apiclient -url https://latch.example.com -email ada@example.com
//
// The bearer token is kept in memory only and never printed. Errors are
// RFC 9457 problem details; the client prints their detail. -ca names a
// PEM file of extra certificate authorities to trust (a test server's);
// -h lists the flags and exits 0.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the flags were listed as asked
	case err != nil:
		fmt.Fprintln(os.Stderr, "apiclient:", err)
		os.Exit(1)
	}
}

// client talks to one Latch server with one bearer token.
type client struct {
	base  string
	http  *http.Client
	token string
}

// problem is the error body of the API (RFC 9457).
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// do sends method path with in (nil: no body) as JSON and decodes a
// successful answer into out (nil: ignore it). A non-2xx answer is an
// error with the problem's detail.
func (c *client) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		var p problem
		if err := json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&p); err != nil || p.Detail == "" {
			return fmt.Errorf("%s %s: %s", method, path, res.Status)
		}
		return fmt.Errorf("%s %s: %d %s: %s", method, path, p.Status, p.Title, p.Detail)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(res.Body).Decode(out)
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("apiclient", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "the Latch server's base URL")
	email := fs.String("email", "", "the account's email address (the password is read from standard input)")
	device := fs.String("device", "apiclient example", "the device name the session is listed under")
	caFile := fs.String("ca", "", "a PEM file of extra certificate authorities to trust")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("-email is required")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")

	tr := http.DefaultTransport.(*http.Transport).Clone()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificate", *caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c := &client{base: strings.TrimRight(*base, "/"), http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}

	var signedIn struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		Session   struct {
			Handle        string    `json:"handle"`
			ExpiresAt     time.Time `json:"expires_at"`
			IdleExpiresAt time.Time `json:"idle_expires_at"`
		} `json:"session"`
	}
	if err := c.do("POST", "/sessions", map[string]string{"email": *email, "password": pw, "device_name": *device}, &signedIn); err != nil {
		return err
	}
	c.token = signedIn.Token
	fmt.Fprintf(stdout, "signed in: session %s, ends by %s (idle: %s)\n", signedIn.Session.Handle,
		signedIn.Session.ExpiresAt.UTC().Format(time.RFC3339), signedIn.Session.IdleExpiresAt.UTC().Format(time.RFC3339))

	var me struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
		Role  string `json:"role"`
	}
	if err := c.do("GET", "/me", nil, &me); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "me: %s (%s, %s)\n", me.Email, me.Name, me.Role)

	var list struct {
		Sessions []struct {
			Handle        string    `json:"handle"`
			Kind          string    `json:"kind"`
			Device        string    `json:"device"`
			IP            string    `json:"ip"`
			ExpiresAt     time.Time `json:"expires_at"`      // the absolute deadline
			IdleExpiresAt time.Time `json:"idle_expires_at"` // the idle one
			Current       bool      `json:"current"`
		} `json:"sessions"`
	}
	if err := c.do("GET", "/sessions", nil, &list); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sessions: %d\n", len(list.Sessions))
	for _, s := range list.Sessions {
		mark := " "
		if s.Current {
			mark = "*"
		}
		fmt.Fprintf(stdout, "%s %s %s (%s, %s) ends by %s (idle: %s)\n", mark, s.Handle, s.Device, s.Kind, s.IP,
			s.ExpiresAt.UTC().Format(time.RFC3339), s.IdleExpiresAt.UTC().Format(time.RFC3339))
	}

	if err := c.do("DELETE", "/sessions/current", nil, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "signed out")
	return nil
}
