package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveRun is `latch serve` (the real command, in this process) on a
// kernel-chosen port, stopped by cancel as SIGTERM stops the process.
type serveRun struct {
	base   string
	logs   *procLog
	cancel context.CancelFunc
	done   chan int // the exit status
}

// startServe migrates a fresh SQLite database and runs `latch serve` with
// env added to the test settings.
func startServe(t *testing.T, env map[string]string) *serveRun {
	t.Helper()
	all := map[string]string{
		"LATCH_DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
		"LATCH_ADDR":          "127.0.0.1:0",
		"LATCH_COOKIE_SECURE": "false",
		"LATCH_ARGON2_MEMORY": "64",
		"LATCH_ARGON2_TIME":   "1",
	}
	for k, v := range env {
		all[k] = v
	}
	getenv := func(k string) string { return all[k] }
	var out strings.Builder
	if code := run(t.Context(), []string{"migrate"}, getenv, nil, &out, &out); code != exitOK {
		t.Fatalf("latch migrate: exit %d\n%s", code, out.String())
	}
	r := &serveRun{logs: &procLog{addr: make(chan string, 1)}, done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- run(ctx, []string{"serve"}, getenv, nil, &out, r.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("latch serve did not stop within 30s")
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", r.logs.String())
		}
	})
	select {
	case addr := <-r.logs.addr:
		r.base = "http://" + addr
	case code := <-r.done:
		t.Fatalf("latch serve exited with %d before listening\n%s", code, r.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("latch serve did not log a listening address within 30s\n%s", r.logs.String())
	}
	return r
}

// waitLog polls (at most 30 seconds) until the log contains s.
func (r *serveRun) waitLog(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(r.logs.String(), s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the log within 30s:\n%s", s, r.logs.String())
		}
	}
}

// exitStatus waits (at most 30 seconds) for serve to return.
func (r *serveRun) exitStatus(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("latch serve did not return within 30s of the stop\n%s", r.logs.String())
		return -1
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// slowLogin opens a connection and sends the headers of a POST /login
// with "Expect: 100-continue", and returns once the server has answered
// "100 Continue": the handler is then running and reading the body (the
// request is in flight, its connection active). finish sends the body and
// reads the final status line.
func slowLogin(t *testing.T, base string) (finish func() (string, error)) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := "email=nobody%40example.com&password=not-the-password"
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Sec-Fetch-Site: same-origin\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", host, len(body))
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("POST /login with Expect: 100-continue: %q, %v; want 100 Continue", line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v", blank, err)
	}
	return func() (string, error) {
		if _, err := io.WriteString(conn, body); err != nil {
			return "", err
		}
		return br.ReadString('\n')
	}
}

// TestGracefulShutdown: when serve is told to stop, /readyz answers 503 at
// once while every other route, new requests included, is still served
// for the drain; then the listener closes, a request in flight still gets
// its answer, and serve returns 0.
func TestGracefulShutdown(t *testing.T) {
	r := startServe(t, map[string]string{"LATCH_SHUTDOWN_DRAIN": "1s", "LATCH_SHUTDOWN_TIMEOUT": "20s"})
	if got := status(t, r.base+"/readyz"); got != http.StatusOK {
		t.Fatalf("readyz before the stop: %d, want 200", got)
	}
	finish := slowLogin(t, r.base)

	r.cancel() // SIGTERM
	r.waitLog(t, `"readyz_checked":true`)
	if got := status(t, r.base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("readyz once shutdown has begun: %d, want 503", got)
	}
	if got := status(t, r.base+"/login"); got != http.StatusOK {
		t.Errorf("a new request while draining: %d, want 200", got)
	}
	if got := status(t, r.base+"/healthz"); got != http.StatusOK {
		t.Errorf("healthz while draining: %d, want 200", got)
	}

	r.waitLog(t, "listener closed; waiting for requests in flight")
	line, err := finish()
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") || strings.HasPrefix(line, "HTTP/1.1 5") {
		t.Errorf("the request in flight across the shutdown got %q, %v; want a complete non-5xx answer", line, err)
	}
	if code := r.exitStatus(t); code != exitOK {
		t.Errorf("serve returned %d after a clean shutdown, want %d", code, exitOK)
	}
	if !strings.Contains(r.logs.String(), `"msg":"shut down"`) {
		t.Errorf("no shut down line in the log")
	}
}

// TestShutdownTimeout: nothing asked /readyz, so there is no drain; a
// request still in flight when LATCH_SHUTDOWN_TIMEOUT ends is cut off and
// serve reports it (non-zero exit) instead of waiting for ever.
func TestShutdownTimeout(t *testing.T) {
	r := startServe(t, map[string]string{"LATCH_SHUTDOWN_DRAIN": "1h", "LATCH_SHUTDOWN_TIMEOUT": "100ms"})
	slowLogin(t, r.base) // never finished
	r.cancel()
	if code := r.exitStatus(t); code != exitError {
		t.Errorf("serve returned %d with a request outliving LATCH_SHUTDOWN_TIMEOUT, want %d", code, exitError)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "LATCH_SHUTDOWN_TIMEOUT") {
		t.Errorf("the error does not name LATCH_SHUTDOWN_TIMEOUT:\n%s", logs)
	}
	if !strings.Contains(logs, `"drain":"0s","readyz_checked":false`) {
		t.Errorf("want the drain skipped when /readyz was never asked:\n%s", logs)
	}
}

// TestHealthcheckCommand: `latch healthcheck` exits 0 when the URL answers
// 200 and 1 otherwise (a 503 readiness, nothing listening).
func TestHealthcheckCommand(t *testing.T) {
	r := startServe(t, map[string]string{"LATCH_SHUTDOWN_DRAIN": "0"})
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"liveness", []string{"--url", r.base + "/healthz"}, exitOK},
		{"readiness", []string{"--url", r.base + "/readyz"}, exitOK},
		{"not 200", []string{"--url", r.base + "/no-such-page"}, exitError},
		{"nothing listening", []string{"--url", "http://" + freeLoopbackAddr(t) + "/healthz"}, exitError},
		{"bad flag", []string{"--nope"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			if code := run(t.Context(), append([]string{"healthcheck"}, tc.args...), func(string) string { return "" }, nil, &out, &out); code != tc.want {
				t.Errorf("latch healthcheck %v: exit %d, want %d\n%s", tc.args, code, tc.want, out.String())
			}
		})
	}
}
