package account_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// The tests run the account operations on the real embedded stack: a
// migrated SQLite database, its embedded session store as the registry,
// a session.Manager issuing the sessions, the real argon2id hasher (cheap
// parameters) and the real strength checker.

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

type fixture struct {
	db       *store.DB
	reg      session.Store
	m        *session.Manager
	accounts *account.Service
	hasher   *password.Hasher
	counts   *counts
}

// counts is an account.Counter that keeps what it was told.
type counts struct {
	mu      sync.Mutex
	created int
	revoked map[string]int
}

func (c *counts) SessionCreated() { c.mu.Lock(); c.created++; c.mu.Unlock() }

func (c *counts) SessionsRevoked(cause string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.revoked == nil {
		c.revoked = map[string]int{}
	}
	c.revoked[cause] += n
}

// of returns the sessions revoked for cause so far.
func (c *counts) of(cause string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.revoked[cause]
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	reg := session.NewSQLStore(db.SQL(), db.Dialect(), 2*time.Second)
	f := &fixture{db: db, reg: reg, hasher: password.NewHasher(cheap, 0, 0), counts: &counts{}}
	f.m = session.NewManager(session.Options{
		Store: reg, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		RememberIdleTimeout: 24 * time.Hour, RememberAbsoluteTimeout: 48 * time.Hour,
		ClientIP: func(r *http.Request) string { h, _, _ := net.SplitHostPort(r.RemoteAddr); return h },
		OnError: func(w http.ResponseWriter, _ *http.Request, err error) {
			t.Errorf("session error: %v", err)
			w.WriteHeader(http.StatusInternalServerError)
		},
	})
	f.accounts = account.New(account.Deps{Users: db, Roles: db, Resets: db, Audit: db, Sessions: reg, Hasher: f.hasher,
		Strength: user.NewStrengthChecker(user.StrengthOptions{MaxConcurrent: 1}), Counter: f.counts})
	return f
}

// newUser creates an account directly in the store with password pw.
func (f *fixture) newUser(t *testing.T, email, pw string, role user.Role) *user.User {
	t.Helper()
	h, err := f.hasher.Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &user.User{Email: email, Name: strings.Split(email, "@")[0], PasswordHash: h, Role: role}
	if err := f.db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// in runs fn inside a request through the session middleware, with the
// session of cookie (nil: none), and returns the response's cookie.
func (f *fixture) in(t *testing.T, cookie *http.Cookie, fn func(ctx context.Context)) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.RemoteAddr = "203.0.113.7:4711"
	req.Header.Set("User-Agent", firefox)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	f.m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { fn(r.Context()) })).ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == f.m.CookieName() && c.MaxAge >= 0 && c.Value != "" {
			return c
		}
	}
	return cookie
}

// login signs u in and returns the session's cookie and handle.
func (f *fixture) login(t *testing.T, u *user.User) (*http.Cookie, string) {
	t.Helper()
	var handle string
	c := f.in(t, nil, func(ctx context.Context) {
		if err := f.m.LoginUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		handle = f.m.Handle(ctx)
	})
	return c, handle
}

func (f *fixture) events(t *testing.T, typ audit.Type) []audit.Event {
	t.Helper()
	ev, _, err := f.db.AuditEvents(t.Context(), audit.Filter{Type: typ, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// wantEvent checks that the newest event of want.Type matches want, but
// for ID and Time.
func (f *fixture) wantEvent(t *testing.T, want audit.Event) {
	t.Helper()
	ev := f.events(t, want.Type)
	if len(ev) == 0 {
		t.Fatalf("no %s event", want.Type)
	}
	if diff := cmp.Diff(want, ev[0], cmpopts.IgnoreFields(audit.Event{}, "ID", "Time")); diff != "" {
		t.Errorf("%s event (-want +got):\n%s", want.Type, diff)
	}
}

func (f *fixture) sessionsOf(t *testing.T, id int64) []session.Record {
	t.Helper()
	recs, err := f.reg.UserSessions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

var admin = account.Actor{Via: audit.ViaAdmin, UserID: 99, SessionHandle: "adminhandle00000000000", IP: "198.51.100.1", UserAgent: "admin-ua"}

func TestCreateUser(t *testing.T) {
	f := newFixture(t)
	self := account.Actor{Via: audit.ViaSelf, IP: "203.0.113.7", UserAgent: firefox}
	u, o, err := f.accounts.CreateUser(t.Context(), self, account.NewUser{Email: " Carol@Example.com ", Name: " Carol ", Password: "purple monkey dishwasher"})
	if err != nil || o.Audit != nil {
		t.Fatalf("CreateUser: %v, %+v", err, o)
	}
	if u.Email != "Carol@Example.com" || u.Name != "Carol" || u.Role != user.RoleUser {
		t.Errorf("created %+v", u)
	}
	f.wantEvent(t, audit.Event{Type: audit.UserCreated, Via: audit.ViaSelf, ActorID: u.ID, SubjectID: u.ID,
		Email: "Carol@Example.com", IP: "203.0.113.7", UserAgent: firefox, Detail: "role user"})

	tests := []struct {
		name  string
		in    account.NewUser
		field string
		is    error
	}{
		{"bad email", account.NewUser{Email: "nope", Name: "N", Password: "purple monkey dishwasher"}, "email", nil},
		{"short password", account.NewUser{Email: "d@example.com", Name: "D", Password: "short"}, "password", nil},
		{"weak password", account.NewUser{Email: "d@example.com", Name: "D", Password: "password1234"}, "password", nil},
		{"taken", account.NewUser{Email: "carol@EXAMPLE.com", Name: "C", Password: "purple monkey dishwasher"}, "", user.ErrEmailTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.accounts.CreateUser(t.Context(), account.CLI(), tt.in)
			var fields account.FieldErrors
			switch {
			case tt.is != nil:
				if !errors.Is(err, tt.is) {
					t.Errorf("err %v, want %v", err, tt.is)
				}
			case !errors.As(err, &fields) || fields[tt.field] == "" || fail.KindOf(err) != fail.Invalid:
				t.Errorf("err %v (kind %v), want FieldErrors naming %s", err, fail.KindOf(err), tt.field)
			}
		})
	}
	if n := len(f.events(t, audit.UserCreated)); n != 1 {
		t.Errorf("%d UserCreated events, want 1 (refusals record nothing)", n)
	}
}

func TestDisableEnable(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser(t, "bob@example.com", "pw-bob-long-enough", user.RoleUser)
	f.login(t, bob)
	f.login(t, bob)

	if _, err := f.accounts.Disable(t.Context(), account.Actor{Via: audit.ViaAdmin, UserID: bob.ID}, bob); !errors.Is(err, account.ErrOwnAccount) {
		t.Errorf("disable own account: %v, want ErrOwnAccount", err)
	}

	res, err := f.accounts.Disable(t.Context(), admin, bob)
	if err != nil || res.Already || len(res.Ended) != 2 {
		t.Fatalf("Disable: %+v, %v", res, err)
	}
	if got, _ := f.db.UserByID(t.Context(), bob.ID); !got.Disabled {
		t.Error("not disabled")
	}
	if n := len(f.sessionsOf(t, bob.ID)); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	f.wantEvent(t, audit.Event{Type: audit.AccountDisabled, Via: audit.ViaAdmin, ActorID: admin.UserID, SubjectID: bob.ID,
		IP: admin.IP, UserAgent: admin.UserAgent, SessionHandle: admin.SessionHandle, Detail: "2 sessions ended"})

	// Again: not stored again; a session made meanwhile is ended.
	bob, _ = f.db.UserByID(t.Context(), bob.ID)
	if _, err := f.reg.RevokeUser(t.Context(), bob.ID, ""); err != nil {
		t.Fatal(err)
	}
	res, err = f.accounts.Disable(t.Context(), account.CLI(), bob)
	if err != nil || !res.Already || len(res.Ended) != 0 {
		t.Errorf("Disable again: %+v, %v", res, err)
	}
	if n := len(f.events(t, audit.AccountDisabled)); n != 1 {
		t.Errorf("%d AccountDisabled events, want 1", n)
	}
	if n := f.counts.of(account.CauseDisabled); n != 2 {
		t.Errorf("%d revocations counted as disabled, want 2", n)
	}

	res, err = f.accounts.Enable(t.Context(), account.CLI(), bob)
	if err != nil || res.Already {
		t.Fatalf("Enable: %+v, %v", res, err)
	}
	f.wantEvent(t, audit.Event{Type: audit.AccountEnabled, Via: audit.ViaCLI, SubjectID: bob.ID})
	bob, _ = f.db.UserByID(t.Context(), bob.ID)
	if res, err := f.accounts.Enable(t.Context(), account.CLI(), bob); err != nil || !res.Already {
		t.Errorf("Enable again: %+v, %v", res, err)
	}
	if n := len(f.events(t, audit.AccountEnabled)); n != 1 {
		t.Errorf("%d AccountEnabled events, want 1", n)
	}
	gone := &user.User{ID: 12345}
	if _, err := f.accounts.Disable(t.Context(), admin, gone); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("disable unknown: %v, want user.ErrNotFound", err)
	}
}

func TestSetRole(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser(t, "bob@example.com", "pw-bob-long-enough", user.RoleUser)
	f.login(t, bob)
	if _, err := f.accounts.SetRole(t.Context(), account.CLI(), bob, "root"); fail.KindOf(err) != fail.Invalid {
		t.Errorf("unknown role: %v, want Invalid", err)
	}
	res, err := f.accounts.SetRole(t.Context(), account.CLI(), bob, user.RoleAdmin)
	if err != nil || len(res.Ended) != 1 {
		t.Fatalf("SetRole: %+v, %v", res, err)
	}
	f.wantEvent(t, audit.Event{Type: audit.RoleChanged, Via: audit.ViaCLI, SubjectID: bob.ID, Detail: "role user → admin"})
	bob, _ = f.db.UserByID(t.Context(), bob.ID)
	if res, err := f.accounts.SetRole(t.Context(), account.CLI(), bob, user.RoleAdmin); err != nil || !res.Already {
		t.Errorf("same role: %+v, %v", res, err)
	}
}

func TestRevokeSessions(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser(t, "bob@example.com", "pw-bob-long-enough", user.RoleUser)
	_, phone := f.login(t, bob)
	_, laptop := f.login(t, bob)
	_, tablet := f.login(t, bob)
	me := account.Actor{Via: audit.ViaSelf, UserID: bob.ID, SessionHandle: laptop}

	if _, _, err := f.accounts.RevokeSession(t.Context(), me, laptop, bob.ID); !errors.Is(err, account.ErrCurrentSession) {
		t.Errorf("revoke current: %v, want ErrCurrentSession", err)
	}
	eve := f.newUser(t, "eve@example.com", "pw-eve-long-enough", user.RoleUser)
	if _, _, err := f.accounts.RevokeSession(t.Context(), account.Actor{Via: audit.ViaSelf, UserID: eve.ID}, phone, eve.ID); !errors.Is(err, account.ErrNoSession) {
		t.Errorf("revoke someone else's: %v, want ErrNoSession", err)
	}
	rec, _, err := f.accounts.RevokeSession(t.Context(), me, phone, bob.ID)
	if err != nil || rec.Handle != phone {
		t.Fatalf("RevokeSession: %+v, %v", rec, err)
	}
	f.wantEvent(t, audit.Event{Type: audit.SessionRevoked, Via: audit.ViaSelf, ActorID: bob.ID, SubjectID: bob.ID,
		SessionHandle: phone, Detail: "Firefox 128 on Linux, 203.0.113.7"})
	if _, _, err := f.accounts.RevokeSession(t.Context(), account.CLI(), phone, 0); !errors.Is(err, account.ErrNoSession) {
		t.Errorf("revoke again: %v, want ErrNoSession", err)
	}

	ended, _, err := f.accounts.RevokeOthers(t.Context(), me)
	if err != nil || len(ended) != 1 || ended[0].Handle != tablet {
		t.Fatalf("RevokeOthers: %+v, %v", ended, err)
	}
	f.wantEvent(t, audit.Event{Type: audit.SessionsRevoked, Via: audit.ViaSelf, ActorID: bob.ID, SubjectID: bob.ID,
		SessionHandle: laptop, Detail: "1 session ended, all but the current one"})
	if _, _, err := f.accounts.RevokeOthers(t.Context(), account.Actor{Via: audit.ViaSelf, UserID: bob.ID}); err == nil {
		t.Error("RevokeOthers without a current session succeeded")
	}
	if recs := f.sessionsOf(t, bob.ID); len(recs) != 1 || recs[0].Handle != laptop {
		t.Errorf("sessions left %+v, want the current one", recs)
	}

	// An administrator on their own account keeps the current session.
	own := account.Actor{Via: audit.ViaAdmin, UserID: bob.ID, SessionHandle: laptop}
	if _, kept, _, err := f.accounts.RevokeAll(t.Context(), own, bob.ID); err != nil || !kept {
		t.Errorf("RevokeAll own: kept %v, %v", kept, err)
	}
	f.wantEvent(t, audit.Event{Type: audit.SessionsRevoked, Via: audit.ViaAdmin, ActorID: bob.ID, SubjectID: bob.ID,
		SessionHandle: laptop, Detail: "0 sessions ended, all but the administrator's current one"})
	if ended, kept, _, err := f.accounts.RevokeAll(t.Context(), account.CLI(), bob.ID); err != nil || kept || len(ended) != 1 {
		t.Errorf("RevokeAll: %+v, kept %v, %v", ended, kept, err)
	}
	f.wantEvent(t, audit.Event{Type: audit.SessionsRevoked, Via: audit.ViaCLI, SubjectID: bob.ID, Detail: "1 session ended"})
	// Counted once each, by who asked: the person's own (phone, tablet)
	// as user, the CLI's (laptop) as admin.
	if u, a := f.counts.of(account.CauseUser), f.counts.of(account.CauseAdmin); u != 2 || a != 1 {
		t.Errorf("revocations counted: user %d, admin %d; want 2, 1", u, a)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser(t, "bob@example.com", "pw-bob-long-enough", user.RoleUser)
	f.login(t, bob)
	cookie, handle := f.login(t, bob)

	if errs := account.PasswordFieldErrors("", "short"); errs["current_password"] == "" || errs["password"] == "" {
		t.Errorf("PasswordFieldErrors = %v", errs)
	}
	if errs := account.PasswordFieldErrors("same password here", "same password here"); errs["password"] == "" {
		t.Errorf("same password: %v", errs)
	}

	var res account.PasswordChanged
	var err error
	me := account.Actor{Via: audit.ViaSelf, UserID: bob.ID, SessionHandle: handle}
	f.in(t, cookie, func(ctx context.Context) {
		// A weak password changes nothing.
		if _, err := f.accounts.ChangePassword(ctx, me, f.m, bob, "password1234"); fail.KindOf(err) != fail.Invalid {
			t.Errorf("weak: %v, want Invalid", err)
		}
		res, err = f.accounts.ChangePassword(ctx, me, f.m, bob, "a much better pass phrase")
	})
	if err != nil || len(res.Ended) != 1 || res.RevokeErr != nil {
		t.Fatalf("ChangePassword: %+v, %v", res, err)
	}
	got, _ := f.db.UserByID(t.Context(), bob.ID)
	if ok, _ := f.hasher.Verify(t.Context(), "a much better pass phrase", got.PasswordHash); !ok {
		t.Error("new password not stored")
	}
	if recs := f.sessionsOf(t, bob.ID); len(recs) != 1 || recs[0].Handle != handle {
		t.Errorf("sessions left %+v, want the current one", recs)
	}
	f.wantEvent(t, audit.Event{Type: audit.PasswordChanged, Via: audit.ViaSelf, ActorID: bob.ID, SubjectID: bob.ID,
		SessionHandle: handle, Detail: "1 session ended, all but the current one"})
	if n := len(f.events(t, audit.PasswordChanged)); n != 1 {
		t.Errorf("%d PasswordChanged events, want 1", n)
	}
}

func TestResetLinkAndReset(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser(t, "bob@example.com", "pw-bob-long-enough", user.RoleUser)
	f.login(t, bob)
	f.login(t, bob)

	link, err := f.accounts.IssueResetLink(t.Context(), admin, bob)
	if err != nil || len(link.Token) != 43 {
		t.Fatalf("IssueResetLink: %+v, %v", link, err)
	}
	f.wantEvent(t, audit.Event{Type: audit.PasswordResetLink, Via: audit.ViaAdmin, ActorID: admin.UserID, SubjectID: bob.ID,
		IP: admin.IP, UserAgent: admin.UserAgent, SessionHandle: admin.SessionHandle,
		Detail: "valid until " + link.Expires.UTC().Format("15:04 MST")})
	if ev := f.events(t, audit.PasswordResetLink); strings.Contains(ev[0].Detail, link.Token) {
		t.Error("the audit event holds the link")
	}

	u, err := f.accounts.ResetLinkAccount(t.Context(), link.Token)
	if err != nil || u.ID != bob.ID {
		t.Fatalf("ResetLinkAccount: %+v, %v", u, err)
	}
	if _, err := f.accounts.ResetLinkAccount(t.Context(), strings.Repeat("x", 43)); !errors.Is(err, user.ErrResetInvalid) {
		t.Errorf("unknown link: %v", err)
	}

	self := account.Actor{Via: audit.ViaSelf, IP: "203.0.113.7", UserAgent: firefox}
	var res account.PasswordReset
	var after string
	f.in(t, nil, func(ctx context.Context) {
		if _, err := f.accounts.ResetPassword(ctx, self, f.m, u, link.Token, "password1234", nil); fail.KindOf(err) != fail.Invalid {
			t.Errorf("weak: %v, want Invalid", err)
		}
		res, err = f.accounts.ResetPassword(ctx, self, f.m, u, link.Token, "a much better pass phrase", func(h string) { after = h })
	})
	if err != nil || len(res.Ended) != 2 || res.Handle == "" || after != res.Handle {
		t.Fatalf("ResetPassword: %+v (afterLogin saw %q), %v", res, after, err)
	}
	if recs := f.sessionsOf(t, bob.ID); len(recs) != 1 || recs[0].Handle != res.Handle {
		t.Errorf("sessions %+v, want only the new one", recs)
	}
	f.wantEvent(t, audit.Event{Type: audit.PasswordReset, Via: audit.ViaSelf, ActorID: bob.ID, SubjectID: bob.ID,
		IP: self.IP, UserAgent: firefox, SessionHandle: res.Handle, Detail: "with a reset link; 2 sessions ended"})

	// Used up.
	f.in(t, nil, func(ctx context.Context) {
		if _, err := f.accounts.ResetPassword(ctx, self, f.m, u, link.Token, "another fine pass phrase", nil); !errors.Is(err, user.ErrResetInvalid) {
			t.Errorf("second use: %v, want ErrResetInvalid", err)
		}
	})

	// A disabled account gets no link, and its link stops working.
	link2, err := f.accounts.IssueResetLink(t.Context(), account.CLI(), bob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.accounts.Disable(t.Context(), account.CLI(), bob); err != nil {
		t.Fatal(err)
	}
	bob, _ = f.db.UserByID(t.Context(), bob.ID)
	if _, err := f.accounts.IssueResetLink(t.Context(), account.CLI(), bob); !errors.Is(err, account.ErrDisabled) {
		t.Errorf("link for a disabled account: %v, want ErrDisabled", err)
	}
	if _, err := f.accounts.ResetLinkAccount(t.Context(), link2.Token); !errors.Is(err, user.ErrResetInvalid) {
		t.Errorf("link of a disabled account: %v, want ErrResetInvalid", err)
	}
}

func TestSessionDetail(t *testing.T) {
	s := account.New(account.Deps{})
	tests := []struct {
		name string
		rec  session.Record
		want string
	}{
		{"firefox", session.Record{UserAgent: firefox, IP: "203.0.113.7"}, "Firefox 128 on Linux, 203.0.113.7"},
		{"unknown", session.Record{UserAgent: "Go-http-client/1.1", IP: "127.0.0.1"}, "Unknown browser, 127.0.0.1"},
		{"no ip", session.Record{UserAgent: firefox}, "Firefox 128 on Linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.SessionDetail(tt.rec); got != tt.want {
				t.Errorf("SessionDetail = %q, want %q", got, tt.want)
			}
		})
	}
}

// failingRevocations is the real registry except that RevokeUser fails, as
// when Redis goes away between the store write and the revocation.
type failingRevocations struct {
	account.Sessions
	err error
}

func (f failingRevocations) RevokeUser(context.Context, int64, string) ([]session.Record, error) {
	return nil, f.err
}

// TestChangeStandsWhenRevocationFails: disabling or changing the role is
// stored and recorded even when the sessions cannot be revoked (the
// credential epoch ends them at their next request anyway); the caller
// gets the revocation's error, so the web answers 503 and the CLI exits 1.
func TestChangeStandsWhenRevocationFails(t *testing.T) {
	f := newFixture(t)
	down := fail.Wrap(fail.Unavailable, errors.New("redis: connection refused"), "session: revoke user")
	accounts := account.New(account.Deps{Users: f.db, Roles: f.db, Audit: f.db, Sessions: failingRevocations{f.reg, down}})
	bob := f.newUser(t, "bob@example.com", "pw-bob-long-enough", user.RoleUser)
	carol := f.newUser(t, "carol@example.com", "pw-carol-long-enough", user.RoleUser)

	res, err := accounts.Disable(t.Context(), admin, bob)
	if !errors.Is(err, down) || fail.KindOf(err) != fail.Unavailable || !errors.Is(res.RevokeErr, down) {
		t.Errorf("Disable: %v (kind %v), RevokeErr %v; want the revocation's error", err, fail.KindOf(err), res.RevokeErr)
	}
	if got, _ := f.db.UserByID(t.Context(), bob.ID); !got.Disabled {
		t.Error("not disabled")
	}
	f.wantEvent(t, audit.Event{Type: audit.AccountDisabled, Via: audit.ViaAdmin, ActorID: admin.UserID, SubjectID: bob.ID,
		IP: admin.IP, UserAgent: admin.UserAgent, SessionHandle: admin.SessionHandle, Detail: "its sessions could not be ended yet"})

	res, err = accounts.SetRole(t.Context(), account.CLI(), carol, user.RoleAdmin)
	if !errors.Is(err, down) || !errors.Is(res.RevokeErr, down) {
		t.Errorf("SetRole: %v, RevokeErr %v; want the revocation's error", err, res.RevokeErr)
	}
	if got, _ := f.db.UserByID(t.Context(), carol.ID); got.Role != user.RoleAdmin {
		t.Error("role not changed")
	}
	f.wantEvent(t, audit.Event{Type: audit.RoleChanged, Via: audit.ViaCLI, SubjectID: carol.ID,
		Detail: "role user → admin; its sessions could not be ended yet"})

	// Revoking all of an account's sessions records nothing when it fails.
	if _, _, _, err := accounts.RevokeAll(t.Context(), account.CLI(), bob.ID); !errors.Is(err, down) {
		t.Errorf("RevokeAll: %v", err)
	}
	if n := len(f.events(t, audit.SessionsRevoked)); n != 0 {
		t.Errorf("%d SessionsRevoked events for a failed revocation, want 0", n)
	}
}
