package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/session"
)

// The reference server is the floor any Redis-backed session can reach on
// this machine: net/http, one redigo GET of the session key named by the
// cookie, and a fixed HTML page as long as Latch's /profile. It is benchmark
// code, not product: no CSRF, no timeouts policy, no templates. The harness
// runs it as a child process (this same binary with -reference-serve), so
// its RSS is measured like Latch's and it competes for the CPU the same way.

// referencePrefix is the key prefix of the reference server's sessions.
const referencePrefix = "ref:s:"

// referenceCookie is the cookie the reference server reads: the same name
// Latch uses with LATCH_COOKIE_SECURE=false, so one targeter shape fits both.
const referenceCookie = "latch_session"

// referenceMain serves the reference page until SIGINT/SIGTERM. args: -addr,
// -redis (URL), -size (page bytes).
func referenceMain(args []string) error {
	fs := flag.NewFlagSet("reference", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	redisURL := fs.String("redis", "", "Redis URL")
	size := fs.Int("size", 4096, "page size in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool := &redis.Pool{
		MaxIdle: 256, MaxActive: 256, Wait: true, IdleTimeout: 4 * time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, *redisURL, redis.DialConnectTimeout(time.Second),
				redis.DialReadTimeout(time.Second), redis.DialWriteTimeout(time.Second))
		},
	}
	defer pool.Close()
	page := referencePage(*size)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(referenceCookie)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		conn, err := pool.GetContext(r.Context())
		if err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		data, err := redis.Bytes(redis.DoContext(conn, r.Context(), "GET", referencePrefix+session.HashToken(c.Value)))
		conn.Close()
		switch {
		case errors.Is(err, redis.ErrNil):
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		case err != nil || len(data) == 0:
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(page)))
		_, _ = w.Write(page)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// referencePage returns an HTML page of exactly size bytes (at least a
// minimal document).
func referencePage(size int) []byte {
	head := "<!doctype html><html><head><title>Your profile</title></head><body><main><p>"
	tail := "</p></main></body></html>\n"
	n := max(size-len(head)-len(tail), 0)
	filler := strings.Repeat("Signed in as reader@bench.example. ", n/35+1)[:n]
	return []byte(head + filler + tail)
}

// seedReferenceSession stores one session for token in the reference
// server's Redis (a 200-byte value, about what a Latch session holds).
func seedReferenceSession(ctx context.Context, redisURL, token string) error {
	c, err := redis.DialURLContext(ctx, redisURL)
	if err != nil {
		return fmt.Errorf("reference session: %w", err)
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "SET", referencePrefix+session.HashToken(token), strings.Repeat("x", 200), "EX", 3600)
	if err != nil {
		return fmt.Errorf("reference session: %w", err)
	}
	return nil
}
