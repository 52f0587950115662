package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/server"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store/storetest"
)

// backend selects where an app under test keeps users and sessions.
type backend struct {
	name     string
	postgres bool // users in PostgreSQL instead of SQLite
	redis    bool // sessions in Redis instead of the embedded store
}

var backends = []backend{
	{name: "sqlite+redis", redis: true},
	{name: "postgres+redis", postgres: true, redis: true},
	{name: "sqlite embedded", redis: false},
}

// testParams makes argon2id cheap so end-to-end tests can log in thousands
// of times; the password package's own tests use the real parameters.
var testParams = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// testApp is a running Latch behind a real TLS listener.
type testApp struct {
	t      *testing.T
	app    *app
	srv    *httptest.Server
	clock  *clocktest.Clock
	logs   *syncBuffer
	cfg    config.Config
	prefix string // Redis key prefix ("" with the embedded store)
}

type appOption func(*config.Config)

// startApp runs Latch on b's stores. Apps started with one config
// (testConfig, then startAppWithConfig for each) share its stores and form
// a multi-instance deployment.
func startApp(t *testing.T, b backend, opts ...appOption) *testApp {
	t.Helper()
	cfg := testConfig(t, b)
	for _, o := range opts {
		o(&cfg)
	}
	return startAppWithConfig(t, cfg, clocktest.New(time.Now()))
}

func testConfig(t testing.TB, b backend) config.Config {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	// No per-user session limit unless a test sets one: many tests sign
	// one account in more than the default 100 times (load loops, 100
	// revocations across a failover); the limit has tests of its own.
	cfg.MaxSessionsPerUser = 0
	cfg.DatabaseURL = "sqlite:" + filepath.Join(t.TempDir(), "latch.db")
	if b.postgres {
		cfg.DatabaseURL = storetest.PostgresURL(t)
	}
	if b.redis {
		cfg.Redis = mustRedis(t, sessiontest.RedisURL(t))
		cfg.RedisKeyPrefix = sessiontest.Prefix(t)
	}
	return cfg
}

// mustRedis returns url parsed as config.Load parses LATCH_REDIS_URL.
func mustRedis(t testing.TB, url string) *config.Redis {
	t.Helper()
	r, err := config.ParseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// redisURL is the LATCH_REDIS_URL of ta's configuration ("" with the
// embedded store), for a latch command pointed at the same stores.
func (ta *testApp) redisURL() string {
	if ta.cfg.Redis == nil {
		return ""
	}
	return ta.cfg.Redis.URL
}

func startAppWithConfig(t *testing.T, cfg config.Config, clock *clocktest.Clock) *testApp {
	t.Helper()
	return startAppWrapped(t, cfg, clock, nil)
}

// startAppWrapped is startAppWithConfig with wrap (if not nil) around the
// whole handler, for tests that must observe a request from outside.
func startAppWrapped(t *testing.T, cfg config.Config, clock *clocktest.Clock, wrap func(http.Handler) http.Handler,
	hooks ...func(*server.Config)) *testApp {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := newTestApp(t.Context(), cfg, log, clock, hooks...)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := a.server.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = 16 << 10
	srv.StartTLS()
	ta := &testApp{t: t, app: a, srv: srv, clock: clock, logs: logs, cfg: cfg}
	if cfg.Redis != nil {
		ta.prefix = cfg.RedisKeyPrefix
	}
	t.Cleanup(func() {
		srv.Close()
		a.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ta
}

// newTestApp is newApp with testParams and clock, and with hooks (if
// any) applied to the server's configuration before the server is built:
// the production wiring of openApp, changed only where a test says so.
func newTestApp(ctx context.Context, cfg config.Config, log *slog.Logger, clock *clocktest.Clock, hooks ...func(*server.Config)) (*app, error) {
	a, scfg, err := openApp(ctx, cfg, log, testParams, clock.Now)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		h(&scfg)
	}
	if err := a.startServer(scfg); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// holder holds requests that carry the header X-Test-Hold in flight right
// after their session is loaded (server.Config.AfterSessionLoad), until the
// test releases them: a request that has loaded its session and has not
// written it back yet.
type holder struct {
	held    chan struct{}
	release chan struct{}
}

func newHolder() *holder {
	return &holder{held: make(chan struct{}, 1), release: make(chan struct{}, 1)}
}

// hook is the server option that installs the holder.
func (h *holder) hook(c *server.Config) {
	c.AfterSessionLoad = func(r *http.Request) {
		if r.Header.Get("X-Test-Hold") != "" {
			h.held <- struct{}{}
			<-h.release
		}
	}
}

// startHeld starts an app on cfg whose requests h can hold.
func startHeld(t *testing.T, cfg config.Config, h *holder) *testApp {
	t.Helper()
	return startAppWrapped(t, cfg, clocktest.New(time.Now()), nil, h.hook)
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// browser is a cookie-keeping client that sends the headers a browser sends
// for same-origin navigation and does not follow redirects.
type browser struct {
	t      *testing.T
	app    *testApp
	client *http.Client
}

func (ta *testApp) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *ta.srv.Client() // a copy: httptest returns one shared client
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: ta.t, app: ta, client: &c}
}

// on returns a browser that sends this one's cookies to another instance.
func (b *browser) on(other *testApp) *browser {
	nb := other.newBrowser()
	nb.client.Jar.SetCookies(mustParseURL(b.t, other.srv.URL), b.client.Jar.Cookies(mustParseURL(b.t, b.app.srv.URL)))
	return nb
}

type page struct {
	status int
	header http.Header
	body   string
	resp   *http.Response
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	if req.Header["Sec-Fetch-Site"] == nil && req.Header["Origin"] == nil && req.Method != http.MethodGet {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.app.srv.URL)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(body), resp: resp}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.app.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// register creates an account through the form and expects success.
func (b *browser) register(email, name, pw string) {
	b.t.Helper()
	p := b.post("/register", url.Values{"email": {email}, "name": {name}, "password": {pw}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
		b.t.Fatalf("register %s: status %d Location %q\n%s", email, p.status, p.header.Get("Location"), p.body)
	}
}

// login submits the login form and expects a 303 to /profile.
func (b *browser) login(email, pw string, remember bool) page {
	b.t.Helper()
	form := url.Values{"email": {email}, "password": {pw}}
	if remember {
		form.Set("remember", "on")
	}
	p := b.post("/login", form)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/profile" {
		b.t.Fatalf("login %s: status %d Location %q\n%s", email, p.status, p.header.Get("Location"), p.body)
	}
	return p
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken reads the synchronizer token from the profile page.
func (b *browser) csrfToken() string {
	b.t.Helper()
	p := b.get("/profile")
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no csrf_token on /profile (status %d)", p.status)
	}
	return html.UnescapeString(m[1])
}

// signedIn reports whether GET /profile shows the profile (200) rather
// than redirecting to the login page.
func (b *browser) signedIn() bool {
	b.t.Helper()
	p := b.get("/profile")
	switch {
	case p.status == http.StatusOK:
		return true
	case p.status == http.StatusSeeOther && strings.HasPrefix(p.header.Get("Location"), "/login"):
		return false
	}
	b.t.Fatalf("GET /profile: unexpected status %d\n%s", p.status, p.body)
	return false
}

// sessionCookie returns the session cookie the jar holds, or nil.
func (b *browser) sessionCookie() *http.Cookie {
	for _, c := range b.client.Jar.Cookies(mustParseURL(b.t, b.app.srv.URL)) {
		if c.Name == "__Host-latch_session" {
			return c
		}
	}
	return nil
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newUser registers a user through the form and returns its credentials.
func (ta *testApp) newUser(name string) (email, pw string) {
	ta.t.Helper()
	email = fmt.Sprintf("%s-%d@example.com", strings.ToLower(name), time.Now().UnixNano())
	pw = "correct horse battery staple"
	ta.newBrowser().register(email, name, pw)
	return email, pw
}

// sessionKeys lists the session keys in Redis under this app's prefix.
func (ta *testApp) sessionKeys() []string {
	ta.t.Helper()
	pool := sessiontest.RedisPool(ta.t)
	return sessiontest.SessionHashes(sessiontest.RedisKeys(ta.t, pool, ta.prefix))
}

// sessionRows counts sessions in the embedded store.
func (ta *testApp) sessionRows() int {
	ta.t.Helper()
	var n int
	if err := ta.app.db.SQL().QueryRowContext(context.Background(), `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		ta.t.Fatal(err)
	}
	return n
}

// storedSessions counts the sessions this app's store holds.
func (ta *testApp) storedSessions() int {
	if ta.prefix != "" {
		return len(ta.sessionKeys())
	}
	return ta.sessionRows()
}
