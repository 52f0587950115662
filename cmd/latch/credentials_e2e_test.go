package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// End-to-end tests of credentials: a password change or reset, a role
// change or disabling ends every session issued before it on every
// instance (RevokeUser at once, and the credential epoch checked by
// requireUser on each request); reset links work once and for 30 minutes
// and never reach the log; imported bcrypt and outdated argon2id hashes are
// upgraded at login; easily guessed passwords are refused.

// newPW is the password the tests change to; it passes the strength check.
const newPW = "purple monkey dishwasher"

// The operator commands and the store date a credential change by the
// real clock, while test apps run on a fake clock frozen at their start.
// catchUp moves c to the real time (never back), so sessions issued next
// are not older than a change made before; behindRealTime sets c a minute
// before the real time, so sessions issued next are older than a change
// made after.
func catchUp(c *clocktest.Clock) {
	if now := time.Now(); now.After(c.Now()) {
		c.Set(now)
	}
}

func behindRealTime(c *clocktest.Clock) { c.Set(time.Now().Add(-time.Minute)) }

// credUser creates an account directly in the store (registration is
// throttled per IP) and returns its address, password and ID.
func credUser(t *testing.T, ta *testApp, name string) (email, pw string, id int64) {
	t.Helper()
	pw = "correct horse battery staple"
	hash, err := password.NewHasher(testParams, 0, 0).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &user.User{Email: fmt.Sprintf("%s-%d@example.com", strings.ToLower(name), time.Now().UnixNano()), Name: name, PasswordHash: hash}
	if err := ta.app.db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u.Email, pw, u.ID
}

// twoInstances starts two apps on the same stores (b must use Redis), with
// one clock.
func twoInstances(t *testing.T, b backend, clock *clocktest.Clock) (*testApp, *testApp) {
	t.Helper()
	cfg := testConfig(t, b)
	return startAppWithConfig(t, cfg, clock), startAppWithConfig(t, cfg, clock)
}

// replay returns a browser on ta holding only cookie.
func replay(ta *testApp, cookie *http.Cookie) *browser {
	br := ta.newBrowser()
	br.client.Jar.SetCookies(mustParseURL(ta.t, ta.srv.URL), []*http.Cookie{cookie})
	return br
}

// wantSignedIn checks each browser's state by GET /profile.
func wantSignedIn(t *testing.T, want bool, browsers map[string]*browser) {
	t.Helper()
	for name, br := range browsers {
		if got := br.as(t).signedIn(); got != want {
			t.Errorf("%s: signed in %v, want %v", name, got, want)
		}
	}
}

func TestPasswordChangeEndsOtherSessionsEverywhere(t *testing.T) {
	for _, b := range backends[:2] { // the Redis backends: two instances
		t.Run(b.name, func(t *testing.T) {
			clock := clocktest.New(time.Now())
			a, other := twoInstances(t, b, clock)
			db := a.app.db
			email, pw, id := credUser(t, a, "Changer")
			me, laptop, phone := a.newBrowser(), a.newBrowser(), other.newBrowser()
			me.login(email, pw, false)
			laptop.login(email, pw, true)
			phone.login(email, pw, false)
			wantSignedIn(t, true, map[string]*browser{"me on A": me, "me on B": me.on(other), "laptop": laptop, "phone on B": phone})

			// Past the re-authentication window: the form's current
			// password is the re-authentication, no extra prompt.
			clock.Advance(10 * time.Minute)
			token := me.csrfToken()
			old := me.sessionCookie()
			p := me.post("/account/password", url.Values{"csrf_token": {token}, "current_password": {"not it, but long"}, "password": {newPW}})
			if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "That is not your current password") {
				t.Fatalf("wrong current password: %d\n%s", p.status, p.body)
			}
			p = me.post("/account/password", url.Values{"csrf_token": {token}, "current_password": {pw}, "password": {"password1234"}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "This password is too easy to guess: it is a commonly used password") {
				t.Fatalf("common new password: %d\n%s", p.status, p.body)
			}
			wantSignedIn(t, true, map[string]*browser{"laptop after refused changes": laptop})

			p = me.post("/account/password", url.Values{"csrf_token": {token}, "current_password": {pw}, "password": {newPW}})
			if p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Password changed</h1>") {
				t.Fatalf("password change: %d, want 200 with the result\n%s", p.status, p.body)
			}
			if n := strings.Count(p.body, `<li class="device">`); n != 2 || !strings.Contains(p.body, "Sessions signed out") {
				t.Errorf("the result lists %d ended sessions, want 2\n%s", n, p.body)
			}
			issued := me.sessionCookie()
			if issued == nil || issued.Value == old.Value {
				t.Fatal("the current session kept its token")
			}

			wantSignedIn(t, false, map[string]*browser{
				"laptop on A": laptop, "laptop's cookie on B": laptop.on(other),
				"phone on B": phone, "phone's cookie on A": phone.on(a),
				"old token on A": replay(a, old), "old token on B": replay(other, old),
			})
			wantSignedIn(t, true, map[string]*browser{"me on A": me, "me on B": me.on(other)})
			if recs, err := a.app.server.Sessions().Registry().UserSessions(t.Context(), id); err != nil || len(recs) != 1 {
				t.Errorf("sessions of the account: %d (%v), want 1", len(recs), err)
			}

			if p := a.newBrowser().post("/login", url.Values{"email": {email}, "password": {pw}}); p.status != http.StatusUnauthorized {
				t.Errorf("login with the old password: %d, want 401", p.status)
			}
			other.newBrowser().login(email, newPW, false)

			events := auditLog(t, db, audit.PasswordChanged)
			if len(events) != 1 || events[0].ActorID != id || events[0].Detail != "2 sessions ended, all but the current one" {
				t.Errorf("PasswordChanged events %+v", events)
			}
			if u := mustUser(t, db, email); !u.SessionsValidAfter.Equal(clock.Now().UTC().Truncate(time.Second)) {
				t.Errorf("sessions valid after %v, want the change time %v", u.SessionsValidAfter, clock.Now())
			}
		})
	}
}

// TestCredentialEpochOnEveryInstance: a change made in the store alone,
// with no session revoked (as by another instance whose RevokeUser failed,
// or a login that stored its session after the revocation), still ends
// every older session on both instances at its next request. The apps'
// clock runs a minute behind the store's (time.Now), so sessions are
// older than the change.
func TestCredentialEpochOnEveryInstance(t *testing.T) {
	changes := []struct {
		name   string
		change func(t *testing.T, db *store.DB, id int64)
	}{
		{"role change", func(t *testing.T, db *store.DB, id int64) {
			if err := db.SetRole(t.Context(), id, user.RoleAdmin); err != nil {
				t.Fatal(err)
			}
		}},
		{"disabled, then enabled again", func(t *testing.T, db *store.DB, id int64) {
			if err := db.SetDisabled(t.Context(), id, true); err != nil {
				t.Fatal(err)
			}
			if err := db.SetDisabled(t.Context(), id, false); err != nil {
				t.Fatal(err)
			}
		}},
		{"password set", func(t *testing.T, db *store.DB, id int64) {
			if err := db.SetPassword(t.Context(), id, mustUserByID(t, db, id).PasswordHash, time.Now()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			clock := clocktest.New(time.Now().Add(-time.Minute))
			a, b := twoInstances(t, backends[0], clock)
			email, pw, id := credUser(t, a, "Epoch")
			onA, onB := a.newBrowser(), b.newBrowser()
			onA.login(email, pw, false)
			onB.login(email, pw, true)
			cookieA, cookieB := onA.sessionCookie(), onB.sessionCookie()

			ch.change(t, a.app.db, id)
			// Each session is first presented to the instance that did not
			// issue it: that instance alone must refuse it.
			wantSignedIn(t, false, map[string]*browser{"A's session on B": replay(b, cookieA), "B's session on A": replay(a, cookieB)})
			if recs, err := a.app.server.Sessions().Registry().UserSessions(t.Context(), id); err != nil || len(recs) != 0 {
				t.Errorf("%d sessions left in the registry (%v), want 0: each was ended at its next request", len(recs), err)
			}

			// A login after the change works on both.
			clock.Advance(2 * time.Minute)
			fresh := a.newBrowser()
			fresh.login(email, pw, false)
			wantSignedIn(t, true, map[string]*browser{"new session on A": fresh, "new session on B": fresh.on(b)})
		})
	}

	// Through the operator's command and the admin page, too.
	t.Run("CLI set-role and admin disable", func(t *testing.T) {
		clock := clocktest.New(time.Now().Add(-time.Minute))
		a, b := twoInstances(t, backends[1], clock)
		email, pw, _ := credUser(t, a, "Operated")
		onA := a.newBrowser()
		onA.login(email, pw, false)
		cliEnvFor(a).ok(t, "user", "set-role", email, "admin")
		wantSignedIn(t, false, map[string]*browser{"after set-role, on B": onA.on(b)})

		clock.Advance(2 * time.Minute)
		onB := b.newBrowser()
		onB.login(email, pw, false)
		adminEmail, adminPW, _ := credUser(t, a, "Admin")
		if err := a.app.db.SetRole(t.Context(), mustUser(t, a.app.db, adminEmail).ID, user.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute) // the SetRole just above ended nothing the admin has yet
		admin := a.newBrowser()
		admin.login(adminEmail, adminPW, false)
		victim := mustUser(t, a.app.db, email)
		if p := admin.post(fmt.Sprintf("/admin/users/%d/disable", victim.ID), url.Values{"csrf_token": {admin.csrfToken()}}); p.status != http.StatusSeeOther {
			t.Fatalf("admin disable: %d\n%s", p.status, p.body)
		}
		if err := a.app.db.SetDisabled(t.Context(), victim.ID, false); err != nil {
			t.Fatal(err)
		}
		wantSignedIn(t, false, map[string]*browser{"after disable and enable, on B": onB, "on A": onB.on(a)})
	})
}

var adminResetLink = regexp.MustCompile(`<code class="reset-link" id="reset-link">(https://127\.0\.0\.1:\d+)(/reset/[A-Za-z0-9_-]{43})</code>`)

func TestResetLinkEndToEnd(t *testing.T) {
	clock := clocktest.New(time.Now())
	a, b := twoInstances(t, backends[0], clock)
	db := a.app.db
	email, pw, id := credUser(t, a, "Forgetful")
	onA, onB := a.newBrowser(), b.newBrowser()
	onA.login(email, pw, false)
	onB.login(email, pw, true)

	out := cliEnvFor(a).ok(t, "user", "reset-link", email, "--base-url", "https://latch.example.com/")
	origin, token := resetLinkOf(t, out.stdout)
	if origin != "https://latch.example.com" {
		t.Errorf("link origin %q", origin)
	}
	path := "/reset/" + token

	visitor := b.newBrowser()
	p := visitor.get(path)
	if p.status != http.StatusOK || !strings.Contains(p.body, email) || !strings.Contains(p.body, `action="`+path+`"`) {
		t.Fatalf("GET the link on B: %d\n%s", p.status, p.body)
	}
	if got := p.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", got)
	}
	p = visitor.post(path, url.Values{"password": {"password1234"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "too easy to guess") {
		t.Fatalf("weak password: %d\n%s", p.status, p.body)
	}
	p = visitor.post(path, url.Values{"password": {newPW}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/profile" {
		t.Fatalf("reset: %d %q, want 303 to /profile\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if p := visitor.get("/profile"); p.status != http.StatusOK || !strings.Contains(p.body, "Your new password is set") {
		t.Errorf("GET /profile after the reset: %d, want 200 with the flash", p.status)
	}
	wantSignedIn(t, true, map[string]*browser{"the reset browser on B": visitor, "on A": visitor.on(a)})
	wantSignedIn(t, false, map[string]*browser{"old session on A": onA, "old remember-me session on B": onB})

	// Used: one clear message, on either instance, and nothing changes.
	for _, ta := range []*testApp{a, b} {
		for _, p := range []page{ta.newBrowser().get(path), ta.newBrowser().post(path, url.Values{"password": {"another fine pass phrase"}})} {
			if p.status != http.StatusNotFound || !strings.Contains(p.body, "This link cannot be used") {
				t.Errorf("the used link: %d\n%s", p.status, p.body)
			}
		}
	}
	if p := a.newBrowser().post("/login", url.Values{"email": {email}, "password": {pw}}); p.status != http.StatusUnauthorized {
		t.Errorf("login with the old password: %d, want 401", p.status)
	}
	a.newBrowser().login(email, newPW, false)

	wantOneEvent(t, db, audit.Event{Type: audit.PasswordResetLink, Via: audit.ViaCLI, SubjectID: id,
		Detail: auditLog(t, db, audit.PasswordResetLink)[0].Detail})
	if ev := auditLog(t, db, audit.PasswordReset); len(ev) != 1 || ev[0].SubjectID != id || ev[0].Detail != "with a reset link; 2 sessions ended" {
		t.Errorf("PasswordReset events %+v", ev)
	}
	for name, ta := range map[string]*testApp{"A": a, "B": b} {
		logs := ta.logs.String()
		if strings.Contains(logs, token) {
			t.Errorf("the token is in %s's log", name)
		}
		if name == "B" && !strings.Contains(logs, `"route":"/reset/redacted"`) {
			t.Errorf("%s's log has no redacted reset line", name)
		}
	}

	t.Run("admin link: racing submissions, exactly one wins", func(t *testing.T) {
		adminEmail, adminPW, _ := credUser(t, a, "Admin")
		if err := db.SetRole(t.Context(), mustUser(t, db, adminEmail).ID, user.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second) // past the epoch the role change set
		admin := a.newBrowser().as(t)
		admin.login(adminEmail, adminPW, false)
		link := makeAdminLink(t, admin, id)

		const n = 6
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			statuses = make([]int, n)
		)
		for i := range n {
			ta := []*testApp{a, b}[i%2]
			c := ta.srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+link, strings.NewReader(url.Values{"password": {"racing pass phrase " + string(rune('a'+i)) + " tango"}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				<-start
				res, err := c.Do(req)
				if err != nil {
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				statuses[i] = res.StatusCode
			})
		}
		close(start)
		wg.Wait()
		wins, refused := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusSeeOther:
				wins++
			case http.StatusNotFound:
				refused++
			}
		}
		if wins != 1 || refused != n-1 {
			t.Errorf("statuses %v: %d successes and %d refusals, want 1 and %d", statuses, wins, refused, n-1)
		}
	})

	t.Run("admin link expires after 30 minutes", func(t *testing.T) {
		adminEmail, adminPW, _ := credUser(t, a, "Admin2")
		if err := db.SetRole(t.Context(), mustUser(t, db, adminEmail).ID, user.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second)
		admin := a.newBrowser().as(t)
		admin.login(adminEmail, adminPW, false)
		link := makeAdminLink(t, admin, id)
		clock.Advance(30*time.Minute - time.Second)
		if p := b.newBrowser().get(link); p.status != http.StatusOK {
			t.Fatalf("one second before expiry: %d, want 200", p.status)
		}
		clock.Advance(time.Second)
		for _, p := range []page{b.newBrowser().get(link), a.newBrowser().post(link, url.Values{"password": {"expired pass phrase, long"}})} {
			if p.status != http.StatusNotFound || !strings.Contains(p.body, "it has expired (a link works for 30 minutes)") {
				t.Errorf("expired link: %d\n%s", p.status, p.body)
			}
		}
	})
}

// makeAdminLink presses "Create reset link" on account id's admin page
// and returns the path of the link it shows.
func makeAdminLink(t *testing.T, admin *browser, id int64) string {
	t.Helper()
	p := admin.post(fmt.Sprintf("/admin/users/%d/reset-link", id), url.Values{"csrf_token": {admin.csrfToken()}})
	m := adminResetLink.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("Create reset link: %d, no link shown\n%s", p.status, p.body)
	}
	return m[2]
}

func TestImportedAndOutdatedHashesUpgradedAtLogin(t *testing.T) {
	const pw = "imported pass phrase, quite long"
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := password.NewHasher(password.Params{Memory: 32, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1, 0).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]string{
		"bcrypt $2a$":           string(bc),
		"bcrypt $2b$":           "$2b$" + strings.TrimPrefix(string(bc), "$2a$"),
		"argon2id, lower costs": weak,
	}
	for _, b := range []backend{backends[0], backends[1]} { // SQLite and PostgreSQL
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			db := ta.app.db
			for name, hash := range hashes {
				t.Run(name, func(t *testing.T) {
					email := fmt.Sprintf("imported-%d@example.com", time.Now().UnixNano())
					q := "INSERT INTO users (email, email_key, name, password_hash) VALUES (?, ?, ?, ?)"
					if db.Dialect() == store.DialectPostgres {
						q = "INSERT INTO users (email, email_key, name, password_hash) VALUES ($1, $2, $3, $4)"
					}
					if _, err := db.SQL().ExecContext(t.Context(), q, email, email, "Imported", hash); err != nil {
						t.Fatal(err)
					}
					if p := ta.newBrowser().post("/login", url.Values{"email": {email}, "password": {"wrong, but long enough"}}); p.status != http.StatusUnauthorized {
						t.Errorf("wrong password against the old hash: %d, want 401", p.status)
					}
					if got := mustUser(t, db, email).PasswordHash; got != hash {
						t.Fatalf("a failed login changed the hash to %q", got)
					}
					ta.newBrowser().login(email, pw, false)
					got := mustUser(t, db, email).PasswordHash
					if !strings.HasPrefix(got, "$argon2id$v=19$m=64,t=1,p=1$") {
						t.Fatalf("hash after login %q, want argon2id with the configured costs (m=64,t=1,p=1)", got)
					}
					ta.newBrowser().login(email, pw, false)
					if again := mustUser(t, db, email).PasswordHash; again != got {
						t.Error("an up-to-date hash was replaced again at the next login")
					}
				})
			}
		})
	}
}

func TestEasilyGuessedPasswordsRefused(t *testing.T) {
	ta := startApp(t, backends[2])
	email := fmt.Sprintf("ada-%d@example.com", time.Now().UnixNano())
	for _, tt := range []struct {
		name, pw, why string
	}{
		{"common", "password1234", "This password is too easy to guess: it is a commonly used password."},
		{"the person's name", "Ada Lovelace 1815", "This password is too easy to guess: it contains your name or email address."},
		{"only the person's name", "Lovelace lovelace Ada", "This password is too easy to guess: it contains your name or email address"},
	} {
		t.Run("register: "+tt.name, func(t *testing.T) {
			p := ta.newBrowser().post("/register", url.Values{"email": {email}, "name": {"Ada Lovelace"}, "password": {tt.pw}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, tt.why) {
				t.Errorf("register with %q: %d, want 422 saying %q\n%s", tt.pw, p.status, tt.why, p.body)
			}
		})
		t.Run("CLI: "+tt.name, func(t *testing.T) {
			out := newCLIEnv(t).run(t, tt.pw+"\n", "user", "create", "--email", email, "--name", "Ada Lovelace", "--password-stdin")
			if out.code != exitUsage || !strings.Contains(out.stderr, "password: "+tt.why) {
				t.Errorf("user create with %q: exit %d, stderr %q", tt.pw, out.code, out.stderr)
			}
		})
	}
	if _, err := ta.app.db.UserByEmail(t.Context(), email); err == nil {
		t.Error("an account was created with a weak password")
	}
}

// mustUserByID returns account id.
func mustUserByID(t *testing.T, db *store.DB, id int64) *user.User {
	t.Helper()
	u, err := db.UserByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
