package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/redistest"
)

// TestRedisDownThen503ThenRecovers stops Redis under a signed-in browser:
// pages that need the session answer 503 with Retry-After, pages that need
// none keep working, and when Redis is back the earlier session works
// again without any action. With Redis stalled (SIGSTOP: connections are
// accepted, nothing is answered) the 503 comes from the Redis read giving
// up (redigo's read timeout or the store's context deadline, both
// LATCH_REDIS_TIMEOUT), as the logged cause shows; without that bound the request would hang. The test asserts the
// cause, not how long it took, so a busy machine cannot fail it.
func TestRedisDownThen503ThenRecovers(t *testing.T) {
	// A redis-server of the test's own, with an append-only file so that a
	// restart keeps its sessions.
	rd := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	cfg := testConfig(t, backend{})
	cfg.Redis = mustRedis(t, rd.URL())
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
		rd.Stop()
		check503("Redis stopped", "connection refused", "EOF", "connection reset", "broken pipe")
		if p := ta.newBrowser().get("/login"); p.status != http.StatusOK {
			t.Errorf("login page without a session while Redis is down: %d, want 200", p.status)
		}
		// Readiness follows Redis; liveness (/healthz) does not (issue 9).
		if p := ta.newBrowser().get("/readyz"); p.status != http.StatusServiceUnavailable {
			t.Errorf("readyz while Redis is down: %d, want 503", p.status)
		}
		if p := ta.newBrowser().get("/healthz"); p.status != http.StatusOK {
			t.Errorf("healthz while Redis is down: %d, want 200 (liveness: the process is up)", p.status)
		}
		rd.Start()
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
		rd.Stop()
		rd.Start()
		// The health check first, while the dead connections are still
		// pooled: a load balancer must not take the instance out.
		for i := range 20 {
			if p := ta.newBrowser().get("/readyz"); p.status != http.StatusOK {
				t.Fatalf("readyz %d after the restart: %d, want 200 (stale pooled connections must be retried)", i, p.status)
			}
		}
		for i := range 20 {
			if p := br.get("/profile"); p.status != http.StatusOK {
				t.Fatalf("request %d after the restart: %d, want 200 (stale pooled connections must be retried)", i, p.status)
			}
		}
	})

	t.Run("stalled", func(t *testing.T) {
		rd.Pause()
		// The bound that fired: redigo's read deadline, or the store's
		// context deadline, both LATCH_REDIS_TIMEOUT.
		check503("Redis stalled", "i/o timeout", "context deadline exceeded")
		rd.Resume()
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
// connection: registrations then answer 503 with Retry-After once the
// store's operation timeout or SQLite's busy timeout passes (not a 500,
// not a hang), 4 at once, with the lock logged as the cause; no goroutine
// is left behind; and registering works again when the lock is released.
func TestDatabaseLockedGives503(t *testing.T) {
	ta := startApp(t, backends[0])
	baseline, _ := busyGoroutines()
	conn, err := ta.app.db.SQL().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"email": {"locked@example.com"}, "name": {"Locked"}, "password": {"correct horse battery staple"}}
	expect503(t, ta, ta.newBrowser(), http.MethodPost, "/register", form, 4, "database unavailable",
		"SQLITE_BUSY", "database is locked", "context deadline exceeded")
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	ta.newBrowser().register("locked@example.com", "Locked", "correct horse battery staple")
	goroutinesBackTo(t, baseline)
}
