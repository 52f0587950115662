package server

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/web"
)

// testApp is the server on httptest with fake stores. Accounts:
// admin@example.com (ID 1, admin), bob@example.com (ID 2), and
// mallory@example.com (ID 3, a hostile display name); each password is
// "pw-" + the local part ("pw-admin").
type testApp struct {
	t        *testing.T
	srv      *Server
	ts       *httptest.Server
	users    *fakeUsers
	audit    *fakeAudit
	sessions *fakeSessions
	hasher   *fakeHasher
	clock    *clocktest.Clock
	logs     *syncBuffer
	strength account.StrengthJudge // judges new passwords in the server's account operations
}

const (
	adminID   = int64(1)
	bobID     = int64(2)
	malloryID = int64(3)

	hostileName  = `<script>alert(1)</script>`
	hostileAgent = `<script>alert("ua")</script>`
	firefoxAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newTestApp(t *testing.T) *testApp {
	t.Helper()
	a := &testApp{
		t: t, users: newFakeUsers(), audit: &fakeAudit{}, sessions: newFakeSessions(),
		hasher: &fakeHasher{}, clock: clocktest.New(t0), logs: &syncBuffer{},
		strength: user.NewStrengthChecker(user.StrengthOptions{}),
	}
	for _, u := range []*user.User{
		{Email: "admin@example.com", Name: "Ada Admin", Role: user.RoleAdmin},
		{Email: "bob@example.com", Name: "Bob", Role: user.RoleUser},
		{Email: "mallory@example.com", Name: hostileName, Role: user.RoleUser},
	} {
		u.PasswordHash = "plain:pw-" + u.Email[:strings.IndexByte(u.Email, '@')]
		u.CreatedAt = t0.Add(-24 * time.Hour)
		if err := a.users.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{
		Log:       slog.New(slog.NewTextHandler(a.logs, nil)),
		Users:     a.users,
		Passwords: a.hasher,
		Audit:     a.audit,
		Sessions: session.NewManager(session.Options{
			Store:       a.sessions,
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
			RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
			Clock: a.clock.Now,
		}),
		Templates: web.Templates,
		Static:    web.Static,
		Clock:     a.clock.Now,
	}
	a.start(cfg)
	return a
}

// start builds a's server from cfg, with account operations on cfg's
// parts (testAccounts) judging with a.strength, and serves it on
// a.ts until the test ends.
func (a *testApp) start(cfg Config) {
	a.t.Helper()
	cfg.Accounts = testAccounts(cfg, a.strength)
	srv, err := New(cfg)
	if err != nil {
		a.t.Fatal(err)
	}
	a.srv = srv
	a.ts = httptest.NewServer(srv.Handler())
	a.t.Cleanup(a.ts.Close)
}

// client is one browser: a cookie jar, a User-Agent, and, once signed in,
// the CSRF token and the public handle of its session.
type client struct {
	app    *testApp
	http   *http.Client
	agent  string
	csrf   string
	handle string
}

func (a *testApp) newClient(agent string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{app: a, agent: agent, http: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login signs c in through the login form. c.handle is the handle of
// the new session as the LoginSucceeded audit event names it; the session
// reaches the registry only through what the session manager records.
func (a *testApp) login(email string, remember bool) *client {
	a.t.Helper()
	return a.loginWith(email, firefoxAgent, remember)
}

// loginWith signs in like login, with the User-Agent agent.
func (a *testApp) loginWith(email, agent string, remember bool) *client {
	a.t.Helper()
	c := a.newClient(agent)
	form := url.Values{"email": {email}, "password": {"pw-" + email[:strings.IndexByte(email, '@')]}}
	if remember {
		form.Set("remember", "on")
	}
	res, _ := c.do("POST", "/login", form)
	if res.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("login %s: status %d", email, res.StatusCode)
	}
	ev, ok := a.audit.last(audit.LoginSucceeded)
	if !ok || ev.SessionHandle == "" {
		a.t.Fatalf("login %s: no LoginSucceeded event with a handle: %+v", email, ev)
	}
	c.handle = ev.SessionHandle
	c.refreshCSRF()
	return c
}

// seedSession signs account userID in on another device, from ip with
// User-Agent agent, through the session manager under test (its
// Middleware and Login, as the login form would after the password
// check, but with no audit event), and returns the new session's handle.
// Tests use it for the other sessions the devices and admin pages list.
func (a *testApp) seedSession(userID int64, ip, agent string, remember bool) string {
	a.t.Helper()
	m := a.srv.sessions
	var handle string
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), userID, remember); err != nil {
			a.t.Errorf("seed session: %v", err)
			return
		}
		handle = m.Handle(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequestWithContext(a.t.Context(), http.MethodPost, "/seed", nil)
	req.RemoteAddr = net.JoinHostPort(ip, "40000")
	req.Header.Set("User-Agent", agent)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || handle == "" || !a.sessions.has(handle) {
		a.t.Fatalf("seed session for account %d: status %d, handle %q not in the registry", userID, rec.Code, handle)
	}
	return handle
}

// refreshCSRF reads the CSRF token from the profile page.
func (c *client) refreshCSRF() {
	c.app.t.Helper()
	res, body := c.get("/profile")
	m := csrfField.FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		c.app.t.Fatalf("GET /profile: status %d, no CSRF token", res.StatusCode)
	}
	c.csrf = m[1]
}

func (c *client) get(path string) (*http.Response, string) {
	c.app.t.Helper()
	return c.do("GET", path, nil)
}

// post sends form with c's CSRF token (unless the form has one).
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.app.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf_token") && c.csrf != "" {
		form.Set("csrf_token", c.csrf)
	}
	return c.do("POST", path, form)
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.app.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(c.app.t.Context(), method, c.app.ts.URL+path, body)
	if err != nil {
		c.app.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", c.agent)
	res, err := c.http.Do(req)
	if err != nil {
		c.app.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.app.t.Fatal(err)
	}
	return res, string(b)
}

func wantStatus(t *testing.T, res *http.Response, body string, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, mainOf(body))
	}
}

func wantRedirect(t *testing.T, res *http.Response, body, location string) {
	t.Helper()
	wantStatus(t, res, body, http.StatusSeeOther)
	if got := res.Header.Get("Location"); got != location {
		t.Fatalf("%s %s: Location %q, want %q", res.Request.Method, res.Request.URL.Path, got, location)
	}
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q\n%s", w, mainOf(body))
		}
	}
}

func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(body, u) {
			t.Errorf("page contains %q", u)
		}
	}
}

// mainOf returns the <main> element of a page, for failure messages.
func mainOf(body string) string {
	i, j := strings.Index(body, "<main"), strings.Index(body, "</main>")
	if i < 0 || j < i {
		return body
	}
	return body[i : j+len("</main>")]
}

// testAccounts builds the account operations for a server test as
// cmd/latch's accountService builds them for the site: on cfg's user
// store (which must also be an account.UserStore, as the SQL store and
// the test's fakes are), audit log, reset links (when cfg.Resets is set),
// session registry, password hasher, clock and log, judging new passwords
// with strength.
func testAccounts(cfg Config, strength account.StrengthJudge) *account.Service {
	d := account.Deps{Users: cfg.Users.(account.UserStore), Audit: cfg.Audit, Sessions: cfg.Sessions.Registry(), Hasher: cfg.Passwords,
		Strength: strength, Clock: cfg.Clock, Log: cfg.Log}
	if cfg.Resets != nil {
		d.Resets = cfg.Resets
	}
	return account.New(d)
}

// rebuildAccounts gives a's server new account operations on its current
// parts (after a test swapped its reset links or a.strength).
func (a *testApp) rebuildAccounts() {
	s := a.srv
	a.srv.accounts = testAccounts(Config{Users: s.users, Audit: s.audit, Resets: s.resets, Sessions: s.sessions,
		Passwords: s.passwords, Clock: s.clock, Log: s.log}, a.strength)
}
