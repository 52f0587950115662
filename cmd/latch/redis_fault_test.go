package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/clocktest"
)

// throwawayRedis is a redis-server of the test's own, on a free loopback
// port, with an append-only file so that a restart keeps its sessions.
type throwawayRedis struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func startThrowawayRedis(t *testing.T) *throwawayRedis {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER_BIN")
	if bin == "" {
		bin = "redis-server"
	}
	if _, err := exec.LookPath(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is required under CI: %v", err)
		}
		t.Skipf("redis-server not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &throwawayRedis{t: t, bin: bin, dir: t.TempDir(), port: port}
	r.start()
	t.Cleanup(func() {
		if r.cmd != nil && r.cmd.Process != nil {
			_ = r.cmd.Process.Signal(syscall.SIGCONT)
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

func (r *throwawayRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *throwawayRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := redis.DialURL(r.url(), redis.DialConnectTimeout(200*time.Millisecond))
		if err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("throwaway redis did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts Redis down (it answers nothing until start).
func (r *throwawayRedis) stop() {
	r.t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// TestRedisDownThen503ThenRecovers stops Redis under a signed-in browser:
// pages that need the session answer 503 with Retry-After, pages that need
// none keep working, and when Redis is back the earlier session works
// again without any action. With Redis stalled (SIGSTOP: connections are
// accepted, nothing is answered) the 503 comes from the Redis read giving
// up (redigo's read timeout or the store's context deadline, both
// LATCH_REDIS_TIMEOUT), as the logged cause shows; without that bound the request would hang. The test asserts the
// cause, not how long it took, so a busy machine cannot fail it.
func TestRedisDownThen503ThenRecovers(t *testing.T) {
	rd := startThrowawayRedis(t)
	cfg := testConfig(t, backend{})
	cfg.Redis = mustRedis(t, rd.url())
	cfg.RedisKeyPrefix = "latch:"
	ta := startAppWithConfig(t, cfg, clocktest.New(time.Now()))
	email, pw := ta.newUser("Outage")
	br := ta.newBrowser()
	br.login(email, pw, false)

	// check503 asserts a 503 with Retry-After for GET /profile whose logged
	// cause (the "session store unavailable" line it caused) contains one
	// of causes.
	check503 := func(what string, causes ...string) {
		t.Helper()
		logged := len(ta.logs.String())
		p := br.get("/profile")
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Fatalf("%s: GET /profile = %d (Retry-After %q), want 503 with Retry-After", what, p.status, p.header.Get("Retry-After"))
		}
		if len(p.resp.Cookies()) != 0 {
			t.Errorf("%s: the 503 changed cookies: %q", what, p.header.Values("Set-Cookie"))
		}
		errs := loggedErrors(t, ta.logs.String()[logged:], "session store unavailable")
		if !slices.ContainsFunc(errs, func(e string) bool {
			return slices.ContainsFunc(causes, func(c string) bool { return strings.Contains(e, c) })
		}) {
			t.Errorf("%s: logged causes %q, want one containing one of %q", what, errs, causes)
		}
	}

	t.Run("stopped", func(t *testing.T) {
		rd.stop()
		check503("Redis stopped", "connection refused", "EOF", "connection reset", "broken pipe")
		if p := ta.newBrowser().get("/login"); p.status != http.StatusOK {
			t.Errorf("login page without a session while Redis is down: %d, want 200", p.status)
		}
		if p := ta.newBrowser().get("/healthz"); p.status != http.StatusServiceUnavailable {
			t.Errorf("healthz while Redis is down: %d, want 503", p.status)
		}
		rd.start()
		if !br.signedIn() {
			t.Fatal("the session did not survive the Redis restart")
		}
	})

	t.Run("restart with a warm pool", func(t *testing.T) {
		// Fill the pool with idle connections; a restart kills them all.
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() { br.get("/profile") })
		}
		wg.Wait()
		rd.stop()
		rd.start()
		// The health check first, while the dead connections are still
		// pooled: a load balancer must not take the instance out.
		for i := range 20 {
			if p := ta.newBrowser().get("/healthz"); p.status != http.StatusOK {
				t.Fatalf("healthz %d after the restart: %d, want 200 (stale pooled connections must be retried)", i, p.status)
			}
		}
		for i := range 20 {
			if p := br.get("/profile"); p.status != http.StatusOK {
				t.Fatalf("request %d after the restart: %d, want 200 (stale pooled connections must be retried)", i, p.status)
			}
		}
	})

	t.Run("stalled", func(t *testing.T) {
		if err := rd.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		// The bound that fired: redigo's read deadline, or the store's
		// context deadline, both LATCH_REDIS_TIMEOUT.
		check503("Redis stalled", "i/o timeout", "context deadline exceeded")
		if err := rd.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if !br.signedIn() {
			t.Fatal("the session did not work after Redis resumed")
		}
	})
}

// loggedErrors returns the "err" field of each JSON log line in logs whose
// message is msg.
func loggedErrors(t *testing.T, logs, msg string) []string {
	t.Helper()
	var errs []string
	for line := range strings.Lines(logs) {
		var rec struct {
			Msg string `json:"msg"`
			Err string `json:"err"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msg {
			errs = append(errs, rec.Err)
		}
	}
	return errs
}

// TestDatabaseLockedGives503 holds SQLite's write lock from another
// connection: a registration then answers 503 with Retry-After once the
// store's operation timeout passes (not a 500, not a hang), and works again
// when the lock is released.
func TestDatabaseLockedGives503(t *testing.T) {
	ta := startApp(t, backends[0])
	conn, err := ta.app.db.SQL().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"email": {"locked@example.com"}, "name": {"Locked"}, "password": {"correct horse battery staple"}}
	p := ta.newBrowser().post("/register", form)
	if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
		t.Fatalf("register with the database locked: %d (Retry-After %q), want 503 with Retry-After", p.status, p.header.Get("Retry-After"))
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	ta.newBrowser().register("locked@example.com", "Locked", "correct horse battery staple")
}
