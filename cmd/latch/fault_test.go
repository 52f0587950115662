package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/redistest"
	"github.com/latch/latch/internal/store/storetest"
)

// The fault tests of issue 9: Redis slow (2 s), black-holed, resetting
// connections, restarted empty; PostgreSQL stopped and black-holed; SQLite
// locked (redis_fault_test.go). Each fault gives 503 with Retry-After, from
// the configured bound (LATCH_REDIS_TIMEOUT, the store's operation
// timeout) as the logged cause shows, never a hang or a 500; no goroutine
// is left behind (busyGoroutines back to its baseline); and Latch recovers
// by itself when the fault ends. The faults are made by Shopify's
// toxiproxy, used as a library: a TCP proxy on a free loopback port
// between Latch and the real server. No test asserts how long anything
// took.

// faultProxy is a toxiproxy proxy in front of one real server.
type faultProxy struct {
	proxy *toxiproxy.Proxy
}

// startFaultProxy starts a proxy on a free loopback port that forwards to
// upstream (host:port); it stops when the test ends.
func startFaultProxy(t *testing.T, name, upstream string) *faultProxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &faultProxy{proxy: p}
}

// addr returns the proxy's host:port (the same after stop and start).
func (f *faultProxy) addr() string { return f.proxy.Listen }

// stop closes the listener and every proxied connection: to its clients
// the server is down (connection refused). The function it returns
// listens again on the same port.
func (f *faultProxy) stop(t *testing.T) (start func()) {
	f.proxy.Stop()
	return func() {
		t.Helper()
		if err := f.proxy.Start(); err != nil {
			t.Fatal(err)
		}
	}
}

// inject adds a toxic of kind (toxiproxy's names: latency, timeout,
// reset_peer, …) with attrs on stream ("downstream": the server's
// replies; "upstream": the client's requests), for new and open
// connections alike, and returns the function that removes it.
func (f *faultProxy) inject(t *testing.T, kind, stream string, attrs map[string]any) (remove func()) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"name": kind, "type": kind, "stream": stream, "attributes": attrs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
		t.Fatalf("add toxic %s: %v", kind, err)
	}
	return func() {
		t.Helper()
		if err := f.proxy.Toxics.RemoveToxic(context.Background(), kind); err != nil {
			t.Fatalf("remove toxic %s: %v", kind, err)
		}
	}
}

// busyGoroutines counts the goroutines of this process that are serving a
// request (a net/http handler frame) or running Latch code (a frame of a
// github.com/latch/latch/internal/ package). Idle keep-alive connections,
// connection pools and the fault proxy's own goroutines are not counted:
// they come and go with connections, not with stuck work. A request that
// outlived its answer, or a Latch goroutine still waiting on a dead
// server, is.
func busyGoroutines() (n int, stacks string) {
	buf := make([]byte, 1<<20)
	for {
		m := runtime.Stack(buf, true)
		if m < len(buf) {
			buf = buf[:m]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var busy []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "main.busyGoroutines(") {
			continue // the caller
		}
		if strings.Contains(g, "net/http.serverHandler.ServeHTTP(") || strings.Contains(g, "github.com/latch/latch/internal/") {
			busy = append(busy, g)
		}
	}
	return len(busy), strings.Join(busy, "\n\n")
}

// goroutinesBackTo polls until busyGoroutines is at most baseline again,
// for at most 30 s (a bound on the polling, not a timing assertion: on an
// idle process it holds at the first look), and fails with the stacks of
// the goroutines left otherwise.
func goroutinesBackTo(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, stacks := busyGoroutines()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines serving requests or running Latch code after the fault ended, baseline %d:\n%s", n, baseline, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expect503 requests path with br n times at once and asserts that each
// answer is 503 with Retry-After and changes no cookie, and that the
// lines logged meanwhile with message msg name one of causes in their
// error (which bound fired, or what the server did).
func expect503(t *testing.T, ta *testApp, br *browser, method, path string, form url.Values, n int, msg string, causes ...string) {
	t.Helper()
	logged := len(ta.logs.String())
	pages := make([]page, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if method == http.MethodPost {
				pages[i] = br.post(path, form)
			} else {
				pages[i] = br.get(path)
			}
		})
	}
	wg.Wait()
	for i, p := range pages {
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Fatalf("%s %s (%d of %d at once) = %d (Retry-After %q), want 503 with Retry-After\n%s",
				method, path, i+1, n, p.status, p.header.Get("Retry-After"), p.body)
		}
		if len(p.resp.Cookies()) != 0 {
			t.Errorf("the 503 changed cookies: %q", p.header.Values("Set-Cookie"))
		}
	}
	errs := loggedErrors(t, ta.logs.String()[logged:], msg)
	if !slices.ContainsFunc(errs, func(e string) bool {
		return slices.ContainsFunc(causes, func(c string) bool { return strings.Contains(e, c) })
	}) {
		t.Errorf("logged %q causes %q, want one containing one of %q", msg, errs, causes)
	}
}

// TestRedisFaults puts toxiproxy between Latch and a real redis-server of
// the test's own and, under a signed-in browser, makes Redis answer 2 s
// late (LATCH_REDIS_TIMEOUT is 500 ms), black-holes it (connections
// accepted, nothing answered), resets every connection, and finally
// restarts Redis empty. The first three give 503 with Retry-After to 8
// page requests and 2 logins at once, caused by the Redis bound or the
// reset as logged, and counted in the metrics (Redis command errors,
// logins answered "unavailable"); when
// the fault is removed the same session works again with no restart of
// Latch, and no goroutine is left behind. After the empty restart every
// session is gone: the browser is signed out (a redirect to the login
// page, not an error page) and can sign in again.
func TestRedisFaults(t *testing.T) {
	rd := redistest.StartServer(t) // no persistence: a restart empties it
	px := startFaultProxy(t, "redis", rd.Addr())
	cfg := testConfig(t, backend{})
	cfg.Redis = mustRedis(t, "redis://"+px.addr()+"/0")
	cfg.RedisKeyPrefix = "latch:"
	ta := startAppWithConfig(t, cfg, clocktest.New(time.Now()))
	if ta.cfg.RedisTimeout >= 2*time.Second {
		t.Fatalf("LATCH_REDIS_TIMEOUT %v: the 2 s latency below must exceed it", ta.cfg.RedisTimeout)
	}
	email, pw := ta.newUser("Faults")
	br := ta.newBrowser()
	br.login(email, pw, false)
	if !br.signedIn() {
		t.Fatal("not signed in")
	}
	baseline, _ := busyGoroutines()
	total := runtime.NumGoroutine()

	// The count is not blind: a request stuck on a black-holed Redis is
	// seen while it waits.
	remove := px.inject(t, "timeout", "downstream", map[string]any{"timeout": 0})
	done := make(chan page, 1)
	go func() { done <- br.get("/profile") }()
	seen := false
	for deadline := time.Now().Add(30 * time.Second); !seen && time.Now().Before(deadline); {
		n, _ := busyGoroutines()
		seen = n > baseline
		if !seen {
			time.Sleep(time.Millisecond)
		}
	}
	if p := <-done; p.status != http.StatusServiceUnavailable {
		t.Fatalf("GET /profile with Redis black-holed: %d, want 503", p.status)
	}
	remove()
	if !seen {
		t.Fatal("busyGoroutines never saw the request waiting on the black-holed Redis")
	}

	for _, c := range []struct {
		name, kind, stream string
		attrs              map[string]any
		causes             []string
	}{
		// The bound that fires: redigo's read deadline or the store's
		// context deadline, both LATCH_REDIS_TIMEOUT.
		{"latency 2s", "latency", "downstream", map[string]any{"latency": 2000}, []string{"i/o timeout", "context deadline exceeded"}},
		{"black hole", "timeout", "downstream", map[string]any{"timeout": 0}, []string{"i/o timeout", "context deadline exceeded"}},
		// Every command is answered by a TCP reset; redisconn.Do retries
		// such connections a bounded number of times, then gives up.
		{"connection reset", "reset_peer", "upstream", map[string]any{"timeout": 0}, []string{"connection reset", "EOF", "broken pipe"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			errorsBefore := gathered(t, ta, "latch_redis_command_errors_total", "kind", "connection")
			remove := px.inject(t, c.kind, c.stream, c.attrs)
			expect503(t, ta, br, http.MethodGet, "/profile", nil, 8, "session store unavailable", c.causes...)
			// A login needs the throttle's counters, in the same Redis.
			unavailable := gathered(t, ta, "latch_logins_total", "outcome", "unavailable")
			expect503(t, ta, ta.newBrowser(), http.MethodPost, "/login", url.Values{"email": {email}, "password": {pw}}, 2,
				"throttle counters unavailable", c.causes...)
			if got := gathered(t, ta, "latch_logins_total", "outcome", "unavailable") - unavailable; got != 2 {
				t.Errorf("latch_logins_total{outcome=unavailable} moved by %v over 2 logins answered 503, want 2", got)
			}
			remove()
			if after := gathered(t, ta, "latch_redis_command_errors_total", "kind", "connection"); after < errorsBefore+8 {
				t.Errorf("latch_redis_command_errors_total{kind=connection} %v → %v over 8 failed requests, want at least +8",
					errorsBefore, after)
			}
			if !br.signedIn() {
				t.Fatal("the session did not work again when the fault ended")
			}
			goroutinesBackTo(t, baseline)
		})
	}

	t.Run("restart with an empty dataset", func(t *testing.T) {
		rd.Kill()
		rd.Start()
		for i := range 3 {
			p := br.get("/profile")
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
				t.Fatalf("GET /profile %d after Redis came back empty: %d Location %q, want a redirect to /login (signed out, not an error)\n%s",
					i, p.status, p.header.Get("Location"), p.body)
			}
		}
		if p := br.get("/"); p.status >= 500 {
			t.Errorf("GET / with the dead session's cookie: %d, want a page", p.status)
		}
		br.login(email, pw, false)
		if !br.signedIn() {
			t.Fatal("could not sign in again after the empty restart")
		}
		goroutinesBackTo(t, baseline)
	})
	t.Logf("goroutines serving requests or in Latch code: baseline %d; all goroutines: %d before the faults, %d after",
		baseline, total, runtime.NumGoroutine())
}

// TestPostgresFaults keeps the users in the machine's PostgreSQL (a schema
// of the test's own) behind toxiproxy, and sessions in Redis. PostgreSQL
// "stopped" (the proxy closes every connection and refuses new ones: the
// shared server itself keeps running for the other tests) and
// black-holed (the store's operation timeout fires) each make a login
// answer 503 with Retry-After, 4 at once, with the database's error
// logged; when the fault ends, the next login succeeds with no restart of
// Latch and no goroutine is left behind. Pages that need no SQL (the
// profile, from the account's state copy beside the session) keep working.
func TestPostgresFaults(t *testing.T) {
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	px := startFaultProxy(t, "postgres", u.Host)
	u.Host = px.addr()
	cfg := testConfig(t, backend{redis: true})
	cfg.DatabaseURL = u.String()
	ta := startAppWithConfig(t, cfg, clocktest.New(time.Now()))
	email, pw := ta.newUser("PgFault")
	form := url.Values{"email": {email}, "password": {pw}}
	signedIn := ta.newBrowser()
	signedIn.login(email, pw, false)
	baseline, _ := busyGoroutines()

	for _, c := range []struct {
		name   string
		fault  func(t *testing.T) (end func())
		causes []string
	}{
		{"stopped", px.stop, []string{"connection refused", "EOF", "connection reset", "broken pipe", "closed"}},
		{"black hole", func(t *testing.T) func() { return px.inject(t, "timeout", "downstream", map[string]any{"timeout": 0}) },
			[]string{"context deadline exceeded", "timeout"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			end := c.fault(t)
			expect503(t, ta, ta.newBrowser(), http.MethodPost, "/login", form, 4, "database unavailable", c.causes...)
			if !signedIn.signedIn() {
				t.Error("a signed-in page that needs no SQL failed while PostgreSQL was down")
			}
			end()
			ta.newBrowser().login(email, pw, false)
			goroutinesBackTo(t, baseline)
		})
	}
}
