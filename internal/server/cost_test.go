package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/store/storetest"
	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/web"
)

// countingStore wraps the real SQL store and counts every call the server
// makes through its UserStore, DeviceLog, AuditLog and PasswordResets
// interfaces: each call is at least one SQL statement.
type countingStore struct {
	db *store.DB
	mu sync.Mutex
	n  map[string]int
}

var (
	_ UserStore      = (*countingStore)(nil)
	_ DeviceLog      = (*countingStore)(nil)
	_ AuditLog       = (*countingStore)(nil)
	_ PasswordResets = (*countingStore)(nil)
)

func (c *countingStore) count(method string) {
	c.mu.Lock()
	c.n[method]++
	c.mu.Unlock()
}

func (c *countingStore) reset() {
	c.mu.Lock()
	c.n = map[string]int{}
	c.mu.Unlock()
}

func (c *countingStore) calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *countingStore) CreateUser(ctx context.Context, u *user.User) error {
	c.count("CreateUser")
	return c.db.CreateUser(ctx, u)
}
func (c *countingStore) UserByEmail(ctx context.Context, email string) (*user.User, error) {
	c.count("UserByEmail")
	return c.db.UserByEmail(ctx, email)
}
func (c *countingStore) UserByID(ctx context.Context, id int64) (*user.User, error) {
	c.count("UserByID")
	return c.db.UserByID(ctx, id)
}
func (c *countingStore) UsersByIDs(ctx context.Context, ids []int64) (map[int64]*user.User, error) {
	c.count("UsersByIDs")
	return c.db.UsersByIDs(ctx, ids)
}

func (c *countingStore) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	c.count("SetPasswordHash")
	return c.db.SetPasswordHash(ctx, id, hash)
}
func (c *countingStore) SetPassword(ctx context.Context, id int64, hash string, at time.Time) error {
	c.count("SetPassword")
	return c.db.SetPassword(ctx, id, hash, at)
}
func (c *countingStore) Users(ctx context.Context, q string, offset, limit int) ([]user.User, int, error) {
	c.count("Users")
	return c.db.Users(ctx, q, offset, limit)
}
func (c *countingStore) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	c.count("SetDisabled")
	return c.db.SetDisabled(ctx, id, disabled)
}
func (c *countingStore) SetTimeZone(ctx context.Context, id int64, zone string) error {
	c.count("SetTimeZone")
	return c.db.SetTimeZone(ctx, id, zone)
}
func (c *countingStore) RecordDeviceLogin(ctx context.Context, userID int64, key, label, handle string, at, cutoff time.Time) (bool, error) {
	c.count("RecordDeviceLogin")
	return c.db.RecordDeviceLogin(ctx, userID, key, label, handle, at, cutoff)
}
func (c *countingStore) InsertAuditEvent(ctx context.Context, e *audit.Event) error {
	c.count("InsertAuditEvent")
	return c.db.InsertAuditEvent(ctx, e)
}
func (c *countingStore) AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, int, error) {
	c.count("AuditEvents")
	return c.db.AuditEvents(ctx, f)
}
func (c *countingStore) CreatePasswordReset(ctx context.Context, userID int64, now time.Time) (string, time.Time, error) {
	c.count("CreatePasswordReset")
	return c.db.CreatePasswordReset(ctx, userID, now)
}
func (c *countingStore) PasswordResetUser(ctx context.Context, token string, now time.Time) (int64, error) {
	c.count("PasswordResetUser")
	return c.db.PasswordResetUser(ctx, token, now)
}
func (c *countingStore) ResetPassword(ctx context.Context, token, hash string, now time.Time) (int64, error) {
	c.count("ResetPassword")
	return c.db.ResetPassword(ctx, token, hash, now)
}

// realApp is the server on real stores: users, audit and devices in SQL
// (counted), sessions and the account state copies in Redis (counted).
type realApp struct {
	*testApp
	db      *store.DB
	sql     *countingStore
	redis   *sessiontest.Counter
	pool    *redis.Pool
	prefix  string
	account *user.User
}

var cheapArgon = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// newRealApp starts the server on real stores; adjust may change its
// configuration and the session manager's options before both are built.
func newRealApp(t *testing.T, dbURL string, adjust ...func(*Config, *session.Options)) *realApp {
	t.Helper()
	db, err := store.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	pool, counter := sessiontest.CountingPool(t)
	prefix := sessiontest.Prefix(t)
	rs := session.NewRedisStore(pool, prefix, 5*time.Second)
	db.SetUserStateCache(rs) // as cmd/latch wires it
	hasher := password.NewHasher(cheapArgon, 0, 0)
	hash, err := hasher.Hash(t.Context(), "pw-bob")
	if err != nil {
		t.Fatal(err)
	}
	bob := &user.User{Email: "bob@example.com", Name: "Bob", PasswordHash: hash, Role: user.RoleAdmin}
	if err := db.CreateUser(t.Context(), bob); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{db: db, n: map[string]int{}}
	a := &testApp{t: t, clock: clocktest.New(time.Now()), logs: &syncBuffer{}, audit: &fakeAudit{},
		strength: user.NewStrengthChecker(user.StrengthOptions{})}
	cfg := Config{
		Log:       slog.New(slog.NewTextHandler(a.logs, nil)),
		Users:     cs,
		Passwords: hasher,
		Audit:     cs,
		Devices:   cs,
		Resets:    cs,
		Templates: web.Templates,
		Static:    web.Static,
		Clock:     a.clock.Now,
	}
	opts := session.Options{
		Store:       rs,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
		Clock: a.clock.Now,
	}
	for _, f := range adjust {
		f(&cfg, &opts)
	}
	cfg.Sessions = session.NewManager(opts)
	a.start(cfg)
	return &realApp{testApp: a, db: db, sql: cs, redis: counter, pool: pool, prefix: prefix, account: bob}
}

// signIn logs bob in through the login form.
func (a *realApp) signIn() *client {
	a.t.Helper()
	c := a.newClient(firefoxAgent)
	res, body := c.do(http.MethodPost, "/login", url.Values{"email": {"bob@example.com"}, "password": {"pw-bob"}})
	wantRedirect(a.t, res, body, "/profile")
	return c
}

func realDatabases() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "latch.db") },
		"postgres": func(t *testing.T) string { return storetest.PostgresURL(t) },
	}
}

// TestSignedInPageCost is issue 7's target: a signed-in page whose data
// comes from the session alone (GET /account) costs exactly one Redis
// command (the script that reads the session and the account's state
// copy) and no SQL statement.
func TestSignedInPageCost(t *testing.T) {
	for name, url := range realDatabases() {
		t.Run(name, func(t *testing.T) {
			a := newRealApp(t, url(t))
			c := a.signIn()
			c.get("/account") // on a fresh Redis the first request loads the script (EVALSHA, NOSCRIPT, EVAL)
			for i := range 3 {
				a.redis.Reset()
				a.sql.reset()
				res, body := c.get("/account")
				wantStatus(t, res, body, http.StatusOK)
				mustContain(t, body, `<dd id="account-email">bob@example.com</dd>`, `<dd id="account-role">Administrator</dd>`)
				if got := a.redis.Commands(); len(got) != 1 || got[0] != "EVALSHA" {
					t.Errorf("request %d: Redis commands %v, want exactly [EVALSHA]", i, got)
				}
				if got := a.sql.calls(); len(got) != 0 {
					t.Errorf("request %d: SQL store calls %v, want none", i, got)
				}
			}
		})
	}
}

// TestMissingStateCopyFallsBackToSQL: without a copy the middleware reads
// the account from SQL (one call) and writes the copy; the next request
// needs no SQL again.
func TestMissingStateCopyFallsBackToSQL(t *testing.T) {
	a := newRealApp(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
	c := a.signIn()
	conn := a.pool.Get()
	if _, err := conn.Do("DEL", sessiontest.UserStateKey(a.prefix, a.account.ID)); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	a.sql.reset()
	res, body := c.get("/account")
	wantStatus(t, res, body, http.StatusOK)
	if got := a.sql.calls(); got["UserByID"] != 1 || len(got) != 1 {
		t.Errorf("without a copy: SQL store calls %v, want one UserByID", got)
	}
	a.sql.reset()
	a.redis.Reset()
	res, body = c.get("/account")
	wantStatus(t, res, body, http.StatusOK)
	if got := a.sql.calls(); len(got) != 0 {
		t.Errorf("after the copy was populated: SQL store calls %v, want none", got)
	}
	if got := a.redis.Commands(); len(got) != 1 {
		t.Errorf("after the copy was populated: Redis commands %v, want one", got)
	}
}

// TestAccountChangesApplyOnTheNextRequest: changes made through the store
// (as the admin pages and the CLI make them) reach the copy, so the very
// next signed-in request sees them without reading SQL first.
func TestAccountChangesApplyOnTheNextRequest(t *testing.T) {
	for name, url := range realDatabases() {
		t.Run(name, func(t *testing.T) {
			a := newRealApp(t, url(t))
			ctx := t.Context()

			c := a.signIn()
			if err := a.db.SetRole(ctx, a.account.ID, user.RoleUser); err != nil {
				t.Fatal(err)
			}
			res, body := c.get("/account")
			wantStatus(t, res, body, http.StatusSeeOther) // the epoch moved: the session ends
			c = a.signIn()
			res, body = c.get("/admin/users")
			wantStatus(t, res, body, http.StatusForbidden)

			if err := a.db.SetDisabled(ctx, a.account.ID, true); err != nil {
				t.Fatal(err)
			}
			res, body = c.get("/account")
			wantStatus(t, res, body, http.StatusSeeOther)
			if got := res.Header.Get("Location"); got != "/login?next=%2Faccount" {
				t.Errorf("disabled account's page: Location %q", got)
			}
		})
	}
}

// rawPost sends form to path with the session cookie value token, outside
// any cookie jar (safe from several goroutines), and returns the response.
func (a *realApp) rawPost(path, token string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, a.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", firefoxAgent)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: a.srv.sessions.CookieName(), Value: token})
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		res.Body.Close()
	}
	return res, err
}

// setCookie returns the value of the cookie name that res sets, and
// whether it sets one.
func setCookie(res *http.Response, name string) (string, bool) {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// TestParallelLoginsKeepTheSessionLimit is issue 12.6 through the login
// form: with LATCH_MAX_SESSIONS_PER_USER=2, 20 parallel logins leave
// exactly 2 live sessions, and each one the limit ended is audited.
func TestParallelLoginsKeepTheSessionLimit(t *testing.T) {
	a := newRealApp(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"), func(_ *Config, o *session.Options) { o.MaxSessionsPerUser = 2 })
	const logins = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := a.rawPost("/login", "", url.Values{"email": {"bob@example.com"}, "password": {"pw-bob"}})
			if err != nil || res.StatusCode != http.StatusSeeOther {
				t.Errorf("login: %v %v", res, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	recs, err := a.srv.sessions.Registry().UserSessions(t.Context(), a.account.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Errorf("%d live sessions after %d parallel logins with a limit of 2, want 2", len(recs), logins)
	}
	events, _, err := a.db.AuditEvents(t.Context(), audit.Filter{Type: audit.SessionRevoked, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != logins-2 {
		t.Errorf("%d sessions audited as revoked by the limit, want %d", len(events), logins-2)
	}
	for _, e := range events {
		if e.Via != audit.ViaLimit {
			t.Errorf("revocation audited via %q, want %q", e.Via, audit.ViaLimit)
		}
	}
}

// TestDoubleSubmittedConfirmation is issue 12.10 through a sudo-mode
// form: two parallel submissions of "sign out my other sessions" with the
// password, from one browser. One confirms, acts and sets the new session
// cookie; the other does not act, sets no session cookie (the browser
// keeps the winner's) and is sent back to the list with a note.
func TestDoubleSubmittedConfirmation(t *testing.T) {
	var barrier sync.WaitGroup
	barrier.Add(2)
	a := newRealApp(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"), func(c *Config, _ *session.Options) {
		c.AfterSessionLoad = func(r *http.Request) {
			if r.URL.Path == "/sessions/revoke-others" { // both loaded before either confirms
				barrier.Done()
				barrier.Wait()
			}
		}
	})
	a.signIn() // another device, to be signed out
	c := a.signIn()
	c.refreshCSRF()
	a.clock.Advance(DefaultReauthWindow + time.Minute) // the password must be entered again
	u, _ := url.Parse(a.ts.URL)
	var token string
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == a.srv.sessions.CookieName() {
			token = ck.Value
		}
	}
	form := url.Values{"csrf_token": {c.csrf}, "reauth_password": {"pw-bob"}}
	results := make(chan *http.Response, 2)
	for range 2 {
		go func() {
			res, err := a.rawPost("/sessions/revoke-others", token, form)
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	var winners, losers int
	for range 2 {
		res := <-results
		if res == nil {
			t.FailNow()
		}
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/sessions" {
			t.Errorf("a confirmation answered %d → %q", res.StatusCode, res.Header.Get("Location"))
		}
		newToken, setsSession := setCookie(res, a.srv.sessions.CookieName())
		flash, _ := setCookie(res, a.srv.flashCookieName())
		switch {
		case setsSession && newToken != "" && newToken != token && flash == string(flashOthersRevoked):
			winners++
		case !setsSession && flash == string(flashSentTwice):
			losers++
		default:
			t.Errorf("a confirmation set session cookie %v %q and flash %q", setsSession, newToken, flash)
		}
	}
	if winners != 1 || losers != 1 {
		t.Errorf("%d winners and %d losers, want one of each", winners, losers)
	}
	events, _, err := a.db.AuditEvents(t.Context(), audit.Filter{Type: audit.SessionsRevoked, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Errorf("the action was carried out %d times, want once", len(events))
	}
}
