package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// cliOutput is what one run of the latch command produced.
type cliOutput struct {
	code           int
	stdout, stderr string
}

// cliEnv is a LATCH_* environment for running the latch command in a test.
type cliEnv map[string]string

// run runs the latch command with args and stdin and returns its output.
func (env cliEnv) run(t *testing.T, stdin string, args ...string) cliOutput {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return cliOutput{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs the command and fails the test unless it exits 0.
func (env cliEnv) ok(t *testing.T, args ...string) cliOutput {
	t.Helper()
	out := env.run(t, "", args...)
	if out.code != exitOK {
		t.Fatalf("latch %s: exit %d, want 0\nstdout: %s\nstderr: %s", strings.Join(args, " "), out.code, out.stdout, out.stderr)
	}
	return out
}

// newCLIEnv returns the environment of a fresh, migrated SQLite database
// (sessions embedded in it) with cheap password hashing.
func newCLIEnv(t *testing.T) cliEnv {
	t.Helper()
	env := cliEnv{
		"LATCH_DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
		"LATCH_ARGON2_MEMORY": "64",
		"LATCH_ARGON2_TIME":   "1",
	}
	env.ok(t, "migrate")
	return env
}

// cliEnvFor returns the environment that points the latch command at the
// stores of a running test app.
func cliEnvFor(ta *testApp) cliEnv {
	return cliEnv{
		"LATCH_DATABASE_URL":     ta.cfg.DatabaseURL,
		"LATCH_REDIS_URL":        ta.redisURL(),
		"LATCH_REDIS_KEY_PREFIX": ta.cfg.RedisKeyPrefix,
	}
}

// openDB opens env's database for checking what a command did.
func (env cliEnv) openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), env["LATCH_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustUser returns the account with this address.
func mustUser(t *testing.T, db *store.DB, email string) *user.User {
	t.Helper()
	u, err := db.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("UserByEmail(%s): %v", email, err)
	}
	return u
}

// auditLog returns the events of type typ, newest first.
func auditLog(t *testing.T, db *store.DB, typ audit.Type) []audit.Event {
	t.Helper()
	events, _, err := db.AuditEvents(t.Context(), audit.Filter{Type: typ, Limit: 500})
	if err != nil {
		t.Fatalf("AuditEvents(%s): %v", typ, err)
	}
	return events
}

// wantOneEvent checks that exactly one event of e's type was recorded and
// that it matches e in everything but ID and Time.
func wantOneEvent(t *testing.T, db *store.DB, want audit.Event) {
	t.Helper()
	got := auditLog(t, db, want.Type)
	if len(got) != 1 {
		t.Fatalf("%d %s events, want 1: %+v", len(got), want.Type, got)
	}
	want.ID, want.Time = got[0].ID, got[0].Time
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("%s event (-want +got):\n%s", want.Type, diff)
	}
}

func TestCLIUserAdmin(t *testing.T) {
	env := newCLIEnv(t)
	out := env.run(t, "a long pass phrase\n", "user", "create", "--email", "Ada@Example.com", "--name", "Ada", "--password-stdin")
	if out.code != exitOK {
		t.Fatalf("user create: exit %d\n%s", out.code, out.stderr)
	}
	db := env.openDB(t)
	ada := mustUser(t, db, "ada@example.com")
	wantOneEvent(t, db, audit.Event{Type: audit.UserCreated, Via: audit.ViaCLI, SubjectID: ada.ID,
		Email: "Ada@Example.com", Detail: "role user"})

	// Each step runs in order on the same database.
	steps := []struct {
		name       string
		args       []string
		wantStdout string
		check      func(t *testing.T)
	}{
		{"disable", []string{"user", "disable", "ada@example.com"}, "disabled user 1 <Ada@Example.com>; 0 sessions ended", func(t *testing.T) {
			if !mustUser(t, db, "ada@example.com").Disabled {
				t.Error("account not disabled")
			}
			wantOneEvent(t, db, audit.Event{Type: audit.AccountDisabled, Via: audit.ViaCLI, SubjectID: ada.ID, Detail: "0 sessions ended"})
		}},
		{"disable again does nothing", []string{"user", "disable", "ADA@example.com"}, "already disabled", func(t *testing.T) {
			if n := len(auditLog(t, db, audit.AccountDisabled)); n != 1 {
				t.Errorf("%d AccountDisabled events, want still 1", n)
			}
			if n := len(auditLog(t, db, audit.SessionsRevoked)); n != 0 {
				t.Errorf("%d SessionsRevoked events for no sessions, want 0", n)
			}
		}},
		{"enable", []string{"user", "enable", "ada@example.com"}, "enabled user 1 <Ada@Example.com>", func(t *testing.T) {
			if mustUser(t, db, "ada@example.com").Disabled {
				t.Error("account still disabled")
			}
			wantOneEvent(t, db, audit.Event{Type: audit.AccountEnabled, Via: audit.ViaCLI, SubjectID: ada.ID})
		}},
		{"enable again does nothing", []string{"user", "enable", "ada@example.com"}, "already enabled", func(t *testing.T) {
			if n := len(auditLog(t, db, audit.AccountEnabled)); n != 1 {
				t.Errorf("%d AccountEnabled events, want still 1", n)
			}
		}},
		{"make admin", []string{"user", "set-role", "ada@example.com", "admin"}, "role user → admin; 0 sessions ended", func(t *testing.T) {
			if got := mustUser(t, db, "ada@example.com").Role; got != user.RoleAdmin {
				t.Errorf("role = %q, want admin", got)
			}
			wantOneEvent(t, db, audit.Event{Type: audit.RoleChanged, Via: audit.ViaCLI, SubjectID: ada.ID, Detail: "role user → admin"})
		}},
		{"same role does nothing", []string{"user", "set-role", "ada@example.com", "admin"}, "already has role admin", func(t *testing.T) {
			if n := len(auditLog(t, db, audit.RoleChanged)); n != 1 {
				t.Errorf("%d RoleChanged events, want still 1", n)
			}
		}},
		{"back to user", []string{"user", "set-role", "ada@example.com", "user"}, "role admin → user", func(t *testing.T) {
			if got := mustUser(t, db, "ada@example.com").Role; got != user.RoleUser {
				t.Errorf("role = %q, want user", got)
			}
			if events := auditLog(t, db, audit.RoleChanged); len(events) != 2 || events[0].Detail != "role admin → user" {
				t.Errorf("RoleChanged events %+v, want the newest to say role admin → user", events)
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out := env.ok(t, st.args...)
			if !strings.Contains(out.stdout, st.wantStdout) {
				t.Errorf("stdout %q, want it to contain %q", out.stdout, st.wantStdout)
			}
			st.check(t)
		})
	}

	// No event has an actor: the CLI does not know who runs it.
	events, _, err := db.AuditEvents(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.ActorID != 0 || e.Via != audit.ViaCLI {
			t.Errorf("event %+v: want ActorID 0 and Via cli", e)
		}
	}
}

func TestCLIAdminErrors(t *testing.T) {
	env := newCLIEnv(t)
	if out := env.run(t, "a long pass phrase\n", "user", "create", "--email", "bob@example.com", "--password-stdin"); out.code != exitOK {
		t.Fatalf("user create: exit %d\n%s", out.code, out.stderr)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string // substring; "" checks nothing
		wantStdout string
	}{
		{"unknown email: disable", []string{"user", "disable", "nobody@example.com"}, exitError, "no user with email nobody@example.com", ""},
		{"unknown email: enable", []string{"user", "enable", "nobody@example.com"}, exitError, "no user with email nobody@example.com", ""},
		{"unknown email: set-role", []string{"user", "set-role", "nobody@example.com", "admin"}, exitError, "no user with email nobody@example.com", ""},
		{"unknown email: sessions list", []string{"sessions", "list", "--user", "nobody@example.com"}, exitError, "no user with email nobody@example.com", ""},
		{"unknown email: sessions revoke", []string{"sessions", "revoke", "--user", "nobody@example.com"}, exitError, "no user with email nobody@example.com", ""},
		{"not an email", []string{"user", "disable", "not an email"}, exitUsage, "is not an email address", ""},
		{"control characters are not echoed", []string{"user", "disable", "a\x1b[2J@example.com"}, exitUsage, `\x1b`, ""},
		{"disable without email", []string{"user", "disable"}, exitUsage, `want "user disable EMAIL"`, ""},
		{"disable with two emails", []string{"user", "disable", "bob@example.com", "x@example.com"}, exitUsage, `want "user disable EMAIL"`, ""},
		{"set-role without role", []string{"user", "set-role", "bob@example.com"}, exitUsage, "set-role EMAIL admin|user", ""},
		{"set-role to an unknown role", []string{"user", "set-role", "bob@example.com", "root"}, exitUsage, `unknown role "root"`, ""},
		{"set-role is case-sensitive", []string{"user", "set-role", "bob@example.com", "Admin"}, exitUsage, `unknown role "Admin"`, ""},
		{"unknown flag", []string{"user", "enable", "--force", "bob@example.com"}, exitUsage, "flag provided but not defined", ""},
		{"unknown user subcommand", []string{"user", "delete", "bob@example.com"}, exitUsage, "user create|disable|enable|set-role", ""},
		{"sessions without subcommand", []string{"sessions"}, exitUsage, "sessions list", ""},
		{"unknown sessions subcommand", []string{"sessions", "kill"}, exitUsage, `unknown subcommand "kill"`, ""},
		{"revoke without target", []string{"sessions", "revoke"}, exitUsage, "give a session handle or --user EMAIL", ""},
		{"revoke handle and user", []string{"sessions", "revoke", "--user", "bob@example.com", "AAAAAAAAAAAAAAAAAAAAAA"}, exitUsage, "not both", ""},
		{"revoke two handles", []string{"sessions", "revoke", "AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB"}, exitUsage, "give one session handle", ""},
		{"revoke a malformed handle", []string{"sessions", "revoke", "abc"}, exitUsage, `"abc" is not a session handle`, ""},
		{"revoke a handle starting with -", []string{"sessions", "revoke", "-AAAAAAAAAAAAAAAAAAAAA"}, exitUsage, "put -- before a handle", ""},
		{"list takes no arguments", []string{"sessions", "list", "extra"}, exitUsage, `unexpected argument "extra"`, ""},
		{"sessions --help", []string{"sessions", "--help"}, exitOK, "", "latch sessions revoke --user EMAIL"},
		{"sessions list --help", []string{"sessions", "list", "--help"}, exitOK, "Usage: latch sessions list", ""},
		{"sessions revoke --help", []string{"sessions", "revoke", "-h"}, exitOK, "Usage: latch sessions revoke", ""},
		{"user --help", []string{"user", "--help"}, exitOK, "", "latch user set-role EMAIL admin|user"},
		{"user disable --help", []string{"user", "disable", "--help"}, exitOK, "Usage: latch user disable EMAIL", ""},
		{"user enable --help", []string{"user", "enable", "--help"}, exitOK, "Usage: latch user enable EMAIL", ""},
		{"user set-role --help", []string{"user", "set-role", "--help"}, exitOK, "Usage: latch user set-role EMAIL admin|user", ""},
		{"bad configuration", []string{"sessions", "list"}, exitUsage, "LATCH_LOG_LEVEL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env
			if tt.name == "bad configuration" {
				e = cliEnv{"LATCH_DATABASE_URL": env["LATCH_DATABASE_URL"], "LATCH_LOG_LEVEL": "loud"}
			}
			out := e.run(t, "", tt.args...)
			if out.code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", out.code, tt.wantCode, out.stdout, out.stderr)
			}
			if !strings.Contains(out.stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", out.stderr, tt.wantStderr)
			}
			if !strings.Contains(out.stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want it to contain %q", out.stdout, tt.wantStdout)
			}
			if strings.ContainsRune(out.stderr, 0x1b) {
				t.Errorf("stderr contains a raw escape character: %q", out.stderr)
			}
		})
	}
	// Nothing above changed the account or recorded anything but its creation.
	db := env.openDB(t)
	if u := mustUser(t, db, "bob@example.com"); u.Disabled || u.Role != user.RoleUser {
		t.Errorf("account changed by failed commands: %+v", u)
	}
	if events, total, err := db.AuditEvents(t.Context(), audit.Filter{}); err != nil || total != 1 || events[0].Type != audit.UserCreated {
		t.Errorf("audit log %+v (total %d, err %v), want only the UserCreated event", events, total, err)
	}
}

// TestCLISessions signs people in through a running app and ends their
// sessions with the latch command, on every backend.
func TestCLISessions(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ta := startApp(t, b)
			env := cliEnvFor(ta)
			db := ta.app.db

			adaEmail, adaPW := ta.newUser("Ada")
			bobEmail, bobPW := ta.newUser("Bob")
			ada1, ada2, bob1 := ta.newBrowser(), ta.newBrowser(), ta.newBrowser()
			ada1.login(adaEmail, adaPW, false)
			ada2.login(adaEmail, adaPW, true)
			bob1.login(bobEmail, bobPW, false)
			ada, bob := mustUser(t, db, adaEmail), mustUser(t, db, bobEmail)

			// list --json: every session, with its account's address.
			var all []sessionJSON
			if err := json.Unmarshal([]byte(env.ok(t, "sessions", "list", "--json").stdout), &all); err != nil {
				t.Fatalf("sessions list --json: %v", err)
			}
			if len(all) != 3 {
				t.Fatalf("sessions list --json: %d sessions, want 3: %+v", len(all), all)
			}
			var adaHandles []string
			remembered := 0
			for _, s := range all {
				if !session.ValidHandle(s.Handle) || s.Created.IsZero() || s.LastSeen.IsZero() || s.IP == "" {
					t.Errorf("incomplete session %+v", s)
				}
				switch s.UserID {
				case ada.ID:
					adaHandles = append(adaHandles, s.Handle)
					if s.Email != adaEmail {
						t.Errorf("session of user %d has email %q, want %q", s.UserID, s.Email, adaEmail)
					}
				case bob.ID:
					if s.Email != bobEmail {
						t.Errorf("session of user %d has email %q, want %q", s.UserID, s.Email, bobEmail)
					}
				default:
					t.Errorf("session of unknown user %d", s.UserID)
				}
				if s.Remember {
					remembered++
				}
			}
			if len(adaHandles) != 2 || remembered != 1 {
				t.Fatalf("Ada has %d sessions (want 2), %d remembered (want 1)", len(adaHandles), remembered)
			}

			// list --user: only that account's.
			var mine []sessionJSON
			if err := json.Unmarshal([]byte(env.ok(t, "sessions", "list", "--json", "--user", strings.ToUpper(adaEmail)).stdout), &mine); err != nil {
				t.Fatal(err)
			}
			got := []string{mine[0].Handle, mine[1].Handle}
			slices.Sort(got)
			slices.Sort(adaHandles)
			if len(mine) != 2 || !slices.Equal(got, adaHandles) {
				t.Errorf("sessions list --user %s: %+v, want Ada's 2 sessions %v", adaEmail, mine, adaHandles)
			}

			// The table names every session and its account.
			table := env.ok(t, "sessions", "list").stdout
			for _, want := range append([]string{"HANDLE", "USER AGENT", adaEmail, bobEmail}, adaHandles...) {
				if !strings.Contains(table, want) {
					t.Errorf("sessions list table lacks %q:\n%s", want, table)
				}
			}

			// revoke HANDLE ends exactly that session.
			out := env.ok(t, "sessions", "revoke", "--", adaHandles[0])
			if !strings.Contains(out.stdout, adaHandles[0]) || !strings.Contains(out.stdout, adaEmail) {
				t.Errorf("revoke output %q, want the handle and Ada's address", out.stdout)
			}
			if in1, in2 := ada1.signedIn(), ada2.signedIn(); in1 == in2 {
				t.Errorf("after revoking one of Ada's 2 sessions, signed in: %v, %v; want exactly one", in1, in2)
			}
			i := slices.IndexFunc(all, func(s sessionJSON) bool { return s.Handle == adaHandles[0] })
			wantOneEvent(t, db, audit.Event{Type: audit.SessionRevoked, Via: audit.ViaCLI, SubjectID: ada.ID,
				// The web's detail format, from the one builder in internal/account
				// (issue 8: the CLI used to write "IP, raw User-Agent").
				SessionHandle: adaHandles[0], Detail: "Unknown browser, " + all[i].IP})

			// Again: the session is gone.
			out = env.run(t, "", "sessions", "revoke", "--", adaHandles[0])
			if out.code != exitError || !strings.Contains(out.stderr, "no active session with handle "+adaHandles[0]) {
				t.Errorf("second revoke: exit %d, stderr %q; want 1 and no active session with handle", out.code, out.stderr)
			}
			if n := len(auditLog(t, db, audit.SessionRevoked)); n != 1 {
				t.Errorf("%d SessionRevoked events after a failed revoke, want 1", n)
			}

			// revoke --user ends all of Bob's sessions.
			out = env.ok(t, "sessions", "revoke", "--user", bobEmail)
			if !strings.Contains(out.stdout, "ended 1 session of user") {
				t.Errorf("revoke --user output %q", out.stdout)
			}
			if bob1.signedIn() {
				t.Error("Bob still signed in after sessions revoke --user")
			}
			wantOneEvent(t, db, audit.Event{Type: audit.SessionsRevoked, Via: audit.ViaCLI, SubjectID: bob.ID, Detail: "1 session ended"})

			// A role change ends the account's sessions.
			bob2 := ta.newBrowser()
			bob2.login(bobEmail, bobPW, false)
			out = env.ok(t, "user", "set-role", bobEmail, "admin")
			if !strings.Contains(out.stdout, "role user → admin; 1 session ended") {
				t.Errorf("set-role output %q", out.stdout)
			}
			if bob2.signedIn() {
				t.Error("Bob still signed in after his role changed")
			}
			if got := mustUser(t, db, bobEmail).Role; got != user.RoleAdmin {
				t.Errorf("Bob's role = %q, want admin", got)
			}
			wantOneEvent(t, db, audit.Event{Type: audit.RoleChanged, Via: audit.ViaCLI, SubjectID: bob.ID, Detail: "role user → admin"})

			// Disabling ends the remaining session and locks the account out.
			out = env.ok(t, "user", "disable", adaEmail)
			if !strings.Contains(out.stdout, "1 session ended") {
				t.Errorf("disable output %q", out.stdout)
			}
			if ada1.signedIn() || ada2.signedIn() {
				t.Error("Ada still signed in after her account was disabled")
			}
			wantOneEvent(t, db, audit.Event{Type: audit.AccountDisabled, Via: audit.ViaCLI, SubjectID: ada.ID, Detail: "1 session ended"})
			if p := ta.newBrowser().post("/login", url.Values{"email": {adaEmail}, "password": {adaPW}}); p.status == http.StatusSeeOther && p.header.Get("Location") == "/profile" {
				t.Error("a disabled account could sign in")
			}

			if out := env.ok(t, "sessions", "list", "--json"); strings.TrimSpace(out.stdout) != "[]" {
				t.Errorf("sessions list --json with no sessions = %q, want []", out.stdout)
			}
			if out := env.ok(t, "sessions", "list"); !strings.Contains(out.stdout, "no active sessions") {
				t.Errorf("sessions list with no sessions = %q", out.stdout)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantUser string
	}{
		{"none", nil, nil, ""},
		{"positional only", []string{"a", "b"}, []string{"a", "b"}, ""},
		{"flag first", []string{"--user", "u", "a"}, []string{"a"}, "u"},
		{"flag last", []string{"a", "--user", "u"}, []string{"a"}, "u"},
		{"flag between", []string{"a", "--user=u", "b"}, []string{"a", "b"}, "u"},
		{"double dash", []string{"a", "--", "-b", "--user"}, []string{"a", "-b", "--user"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("test", "test", &strings.Builder{})
			u := fs.String("user", "", "")
			pos, err := parseArgs(fs, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tt.wantPos) || *u != tt.wantUser {
				t.Errorf("parseArgs(%q) = %q, user %q; want %q, %q", tt.args, pos, *u, tt.wantPos, tt.wantUser)
			}
		})
	}
}

func TestTerminalSafe(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Mozilla/5.0", -1, "Mozilla/5.0"},
		{"evil\x1b[2J\tUA\n", -1, "evil [2J UA "},
		{"bad \xff byte", -1, "bad   byte"},
		{"abcdef", 4, "abc…"},
		{"🦊🦊🦊", 3, "🦊🦊🦊"},
		{"🦊🦊🦊🦊", 3, "🦊🦊…"},
	}
	for _, tt := range tests {
		if got := terminalSafe(tt.in, tt.max); got != tt.want {
			t.Errorf("terminalSafe(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestCLIRefusesAnUnmigratedDatabase: an operator command on a database
// that `latch migrate` has not prepared says so, instead of failing on a
// missing table ("no such table: users"; break-it review), and creates
// no account.
func TestCLIRefusesAnUnmigratedDatabase(t *testing.T) {
	env := cliEnv{
		"LATCH_DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
		"LATCH_ARGON2_MEMORY": "64",
		"LATCH_ARGON2_TIME":   "1",
	}
	for _, args := range [][]string{
		{"user", "create", "--email", "bob@example.com", "--password-stdin"},
		{"user", "disable", "bob@example.com"},
		{"user", "reset-link", "bob@example.com"},
		{"sessions", "list"},
	} {
		out := env.run(t, "a long pass phrase\n", args...)
		if out.code != exitError || !strings.Contains(out.stderr, "run `latch migrate` first") || strings.Contains(out.stderr, "no such table") {
			t.Errorf("latch %s on an unmigrated database: exit %d\n%s", strings.Join(args, " "), out.code, out.stderr)
		}
	}
}
