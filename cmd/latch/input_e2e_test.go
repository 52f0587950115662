package main

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/server"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// TestNULRefusedBeforeTheStore is the regression test for issue 12.7: on
// PostgreSQL, /admin/users?q=%00 answered 500 (`invalid byte sequence for
// encoding "UTF8"`), since the NUL reached the query. Now a NUL or invalid
// UTF-8 in a query parameter or a form field is a 400 in plain words before
// any store call, on SQLite and PostgreSQL alike.
func TestNULRefusedBeforeTheStore(t *testing.T) {
	for _, b := range backends[:2] { // SQLite and PostgreSQL
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			u, pw := adminAccount(t, ta, "Admin")
			admin := ta.newBrowser()
			admin.login(u.Email, pw, false)

			for _, path := range []string{
				"/admin/users?q=%00", "/admin/users?q=a%00b", "/admin/users?q=%FF",
				"/admin/audit?user=%00", "/admin/audit?type=login.failed%00", "/admin/sessions?email=%00",
			} {
				p := admin.get(path)
				if p.status != http.StatusBadRequest || !strings.Contains(p.body, "contains a character that is not allowed") {
					t.Errorf("GET %s: status %d, want 400 with the message\n%s", path, p.status, p.body)
				}
			}
			if p := admin.get("/admin/users?q=admin"); p.status != http.StatusOK {
				t.Errorf("GET /admin/users?q=admin: status %d after the refusals", p.status)
			}

			anon := ta.newBrowser()
			for _, email := range []string{u.Email + "\x00", "a\x00@example.com", "\xff@example.com"} {
				p := anon.post("/login", url.Values{"email": {email}, "password": {pw}})
				if p.status != http.StatusBadRequest || !strings.Contains(p.body, "The form contains a character that is not allowed") {
					t.Errorf("POST /login with %q: status %d, want 400\n%s", email, p.status, p.body)
				}
			}
			if strings.Contains(ta.logs.String(), "invalid byte sequence") {
				t.Error("a NUL reached the database")
			}
		})
	}
}

// TestLegacyLookAlikeAccountsSignIn (issue 12.4): accounts stored before
// addresses were normalised with NFKC and checked for look-alikes (a
// fullwidth address, a Cyrillic letter among Latin ones) still sign in with
// the address they have, on SQLite and PostgreSQL, while the same address
// can no longer be registered.
func TestLegacyLookAlikeAccountsSignIn(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			db := ta.app.db
			for i, legacy := range []string{"ａｌｉｃｅ@example.com", "alіce@example.com"} {
				u, pw := adminAccount(t, ta, fmt.Sprintf("legacy%d", i))
				set := "UPDATE users SET email = ?, email_key = ? WHERE id = ?"
				if db.Dialect() == store.DialectPostgres {
					set = "UPDATE users SET email = $1, email_key = $2 WHERE id = $3"
				}
				if _, err := db.SQL().ExecContext(t.Context(), set, legacy, strings.ToLower(legacy), u.ID); err != nil {
					t.Fatal(err)
				}
				ta.newBrowser().login(legacy, pw, false)
			}
			p := ta.newBrowser().post("/register", url.Values{"email": {"bоb@example.com"}, "name": {"Bob"}, "password": {"correct horse battery staple"}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "mixes letters of different alphabets") {
				t.Errorf("registering a mixed-script address: status %d\n%s", p.status, p.body)
			}
		})
	}
}

// countingJudge is a user.Judge (zxcvbn underneath) that counts calls, the
// most at once and the longest input.
type countingJudge struct {
	mu                  sync.Mutex
	calls, inside, most int
	longest             int
}

func (j *countingJudge) judge(pw string, hints []string) zxcvbn.Result {
	j.mu.Lock()
	j.calls++
	j.inside++
	j.most = max(j.most, j.inside)
	j.longest = max(j.longest, utf8.RuneCountInString(pw))
	j.mu.Unlock()
	defer func() { j.mu.Lock(); j.inside--; j.mu.Unlock() }()
	return zxcvbn.PasswordStrength(pw, hints)
}

// TestRegistrationBurstIsBounded (issue 12.2) sends 80 registrations at once
// with the costliest passwords (1024 bytes of symbols) to an instance on
// real Redis, half with an invalid email. The invalid ones are refused
// before any strength check, and the valid ones beyond the per-IP quota (10
// an hour: 429) before it too, so at most 10 passwords are judged, never
// more than NumCPU at once and never more than user.MaxJudgedRunes
// characters of them; afterwards the owner of an account signs in. Before,
// every one of the 80 was judged (100 characters each, up to seconds of
// CPU). On a loaded machine some counts may time out in Redis: those are
// refused (503, fail closed) before judging too. That a full strength pool
// cannot hold up sign-ins is TestStrengthPoolFullAnswers503 (server).
func TestRegistrationBurstIsBounded(t *testing.T) {
	j := &countingJudge{}
	ta := startAppWrapped(t, testConfig(t, backends[0]), clocktest.New(time.Now()), nil, func(c *server.Config) {
		c.Accounts = accountService(c.Users.(*store.DB), c.Sessions.Registry(), c.Passwords,
			user.NewStrengthChecker(user.StrengthOptions{Judge: j.judge}), c.Clock, c.Log, nil)
	})
	owner, ownerPW := adminAccount(t, ta, "Owner")
	costly := strings.Repeat(`!@#$%^&*()_+-=[]{};':",./<>?\|~`, 40)[:user.MaxPasswordBytes]

	const n = 80
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		statuses = make([]int, n)
	)
	for i := range n {
		email := fmt.Sprintf("burst%d-%d@example.com", i, time.Now().UnixNano())
		if i%2 == 0 {
			email = fmt.Sprintf("burst %d", i) // no address
		}
		br := ta.newBrowser()
		wg.Go(func() {
			<-start
			statuses[i] = br.post("/register", url.Values{"email": {email}, "name": {"Burst"}, "password": {costly}}).status
		})
	}
	close(start)
	wg.Wait()
	ta.newBrowser().login(owner.Email, ownerPW, false)

	counts, admitted := map[int]int{}, 0
	for i, st := range statuses {
		counts[st]++
		switch {
		case i%2 == 0:
			if st != http.StatusUnprocessableEntity {
				t.Errorf("registration %d with no address: %d, want 422", i, st)
			}
		case st == http.StatusSeeOther || st == http.StatusUnprocessableEntity:
			admitted++
		case st != http.StatusTooManyRequests && st != http.StatusServiceUnavailable:
			t.Errorf("registration %d: %d, want 303, 422, 429 or 503", i, st)
		}
	}
	if admitted > 10 {
		t.Errorf("statuses %v: %d valid registrations got past the quota of 10", counts, admitted)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.calls != admitted {
		t.Errorf("%d strength checks for %d admitted registrations (statuses %v)", j.calls, admitted, counts)
	}
	if j.most > runtime.NumCPU() {
		t.Errorf("%d strength checks ran at once, more than NumCPU = %d", j.most, runtime.NumCPU())
	}
	if j.longest > user.MaxJudgedRunes {
		t.Errorf("a strength check judged %d characters, more than %d", j.longest, user.MaxJudgedRunes)
	}
}

// TestCLILookAlikes (issue 12.4): `latch user create` refuses a
// mixed-script address and a name with a format character, and still
// manages an account stored before those rules with the address it has.
func TestCLILookAlikes(t *testing.T) {
	env := newCLIEnv(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "create", "--email", "dаve@example.com", "--password-stdin"}, "mixes letters of different alphabets"}, // Cyrillic а
		{[]string{"user", "create", "--email", "dave@example.com", "--name", "Da\u202eve", "--password-stdin"}, "invisible formatting characters"},
	} {
		if out := env.run(t, "a long pass phrase\n", tt.args...); out.code != exitUsage || !strings.Contains(out.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, out.code, out.stderr, exitUsage, tt.want)
		}
	}
	if out := env.run(t, "a long pass phrase\n", "user", "create", "--email", "alice@example.com", "--password-stdin"); out.code != exitOK {
		t.Fatalf("user create: exit %d\n%s", out.code, out.stderr)
	}
	db := env.openDB(t)
	legacy := "alіce@example.com" // Cyrillic і, as an older Latch accepted
	set := "UPDATE users SET email = ?, email_key = ? WHERE email_key = 'alice@example.com'"
	if _, err := db.SQL().ExecContext(t.Context(), set, legacy, legacy); err != nil {
		t.Fatal(err)
	}
	if out := env.run(t, "", "user", "disable", legacy); out.code != exitOK {
		t.Fatalf("disable the legacy account: exit %d\n%s", out.code, out.stderr)
	}
	if !mustUser(t, db, legacy).Disabled {
		t.Error("the legacy account was not disabled")
	}
}
