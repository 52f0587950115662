package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// TestAccountOperationsWebAndCLIAgree runs each account operation that has
// both a web and a CLI adapter once through each, on the same running app
// and database, and compares the audit events they record: the same type,
// the account acted on as subject, the actor (the administrator, or the
// new account itself for a registration, on the web; nobody, Via cli, from
// the CLI) and the same detail format. Issue 8: before internal/account
// the same session.revoked event said "Firefox 128 on Linux, IP" from the
// web and "IP, raw User-Agent" from the CLI.
//
// Set role has no web adapter (no admin page changes roles), and change
// password, reset by link and revoke all others are a person's own actions
// with no CLI adapter; internal/account's tests cover them.
func TestAccountOperationsWebAndCLIAgree(t *testing.T) {
	for _, b := range []backend{{name: "sqlite embedded"}, {name: "sqlite+redis", redis: true}} {
		t.Run(b.name, func(t *testing.T) { testAccountOperationsWebAndCLIAgree(t, b) })
	}
}

func testAccountOperationsWebAndCLIAgree(t *testing.T, b backend) {
	ta := startApp(t, b)
	env := cliEnvFor(ta)
	env["LATCH_ARGON2_MEMORY"], env["LATCH_ARGON2_TIME"] = "64", "1"
	db := ta.app.db

	const pw = "correct horse battery staple"
	n := 0
	create := func(t *testing.T) (email string, id int64) {
		t.Helper()
		n++
		email = fmt.Sprintf("subject-%d@example.com", n)
		out := env.run(t, pw+"\n", "user", "create", "--email", email, "--password-stdin")
		if out.code != exitOK {
			t.Fatalf("user create: %d %s", out.code, out.stderr)
		}
		return email, mustUser(t, db, email).ID
	}
	signIn := func(t *testing.T, email string) *browser {
		t.Helper()
		b := ta.newBrowser()
		b.login(email, pw, false)
		return b
	}
	handleOf := func(t *testing.T, email string) string {
		t.Helper()
		var list []sessionJSON
		if err := json.Unmarshal([]byte(env.ok(t, "sessions", "list", "--user", email, "--json").stdout), &list); err != nil || len(list) != 1 {
			t.Fatalf("sessions of %s: %v %+v", email, err, list)
		}
		return list[0].Handle
	}

	adminEmail := "admin@example.com"
	if out := env.run(t, pw+"\n", "user", "create", "--email", adminEmail, "--admin", "--password-stdin"); out.code != exitOK {
		t.Fatalf("user create --admin: %s", out.stderr)
	}
	adminID := mustUser(t, db, adminEmail).ID
	admin := signIn(t, adminEmail)
	adminPost := func(t *testing.T, path string, want int) {
		t.Helper()
		p := admin.post(path, url.Values{"csrf_token": {admin.csrfToken()}})
		if p.status != want {
			t.Fatalf("POST %s: %d, want %d\n%s", path, p.status, want, p.body)
		}
	}
	userPath := func(id int64) string { return "/admin/users/" + strconv.FormatInt(id, 10) }

	type subject struct {
		email string
		id    int64
	}
	tests := []struct {
		name  string
		typ   audit.Type
		setup func(t *testing.T) subject // the account acted on; nil: none yet (create)
		web   func(t *testing.T, s subject) subject
		cli   func(t *testing.T, s subject) subject
		// webActor is who the web's event names as actor (default: the admin).
		webActor func(s subject) int64
	}{
		{
			name: "create user", typ: audit.UserCreated,
			web: func(t *testing.T, _ subject) subject {
				n++
				email := fmt.Sprintf("subject-%d@example.com", n)
				ta.newBrowser().register(email, "Subject", pw)
				return subject{email, mustUser(t, db, email).ID}
			},
			cli: func(t *testing.T, _ subject) subject {
				email, id := create(t)
				return subject{email, id}
			},
			webActor: func(s subject) int64 { return s.id }, // a registration is the new account's own
		},
		{
			name: "issue reset link", typ: audit.PasswordResetLink,
			web: func(t *testing.T, s subject) subject {
				adminPost(t, userPath(s.id)+"/reset-link", http.StatusOK)
				return s
			},
			cli: func(t *testing.T, s subject) subject { env.ok(t, "user", "reset-link", s.email); return s },
		},
		{
			name: "disable", typ: audit.AccountDisabled,
			web: func(t *testing.T, s subject) subject {
				signIn(t, s.email)
				adminPost(t, userPath(s.id)+"/disable", http.StatusSeeOther)
				return s
			},
			cli: func(t *testing.T, s subject) subject {
				signIn(t, s.email)
				env.ok(t, "user", "disable", s.email)
				return s
			},
		},
		{
			name: "enable", typ: audit.AccountEnabled,
			web: func(t *testing.T, s subject) subject {
				env.ok(t, "user", "disable", s.email)
				adminPost(t, userPath(s.id)+"/enable", http.StatusSeeOther)
				return s
			},
			cli: func(t *testing.T, s subject) subject {
				env.ok(t, "user", "disable", s.email)
				env.ok(t, "user", "enable", s.email)
				return s
			},
		},
		{
			name: "revoke one session", typ: audit.SessionRevoked,
			web: func(t *testing.T, s subject) subject {
				signIn(t, s.email)
				adminPost(t, "/admin/sessions/"+handleOf(t, s.email)+"/kill", http.StatusSeeOther)
				return s
			},
			cli: func(t *testing.T, s subject) subject {
				signIn(t, s.email)
				env.ok(t, "sessions", "revoke", "--", handleOf(t, s.email))
				return s
			},
		},
		{
			name: "revoke all of a user", typ: audit.SessionsRevoked,
			web: func(t *testing.T, s subject) subject {
				signIn(t, s.email)
				signIn(t, s.email)
				adminPost(t, userPath(s.id)+"/kill-sessions", http.StatusSeeOther)
				return s
			},
			cli: func(t *testing.T, s subject) subject {
				signIn(t, s.email)
				signIn(t, s.email)
				env.ok(t, "sessions", "revoke", "--user", s.email)
				return s
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ws, cs subject
			if tt.name != "create user" {
				ws.email, ws.id = create(t)
				cs.email, cs.id = create(t)
			}
			ws = tt.web(t, ws)
			cs = tt.cli(t, cs)
			we, ce := eventOf(t, db, tt.typ, ws.id), eventOf(t, db, tt.typ, cs.id)

			wantActor := adminID
			wantVia := audit.ViaAdmin
			if tt.webActor != nil {
				wantActor, wantVia = tt.webActor(ws), audit.ViaSelf
			}
			if we.ActorID != wantActor || we.Via != wantVia {
				t.Errorf("web event actor %d via %q, want %d via %q", we.ActorID, we.Via, wantActor, wantVia)
			}
			if ce.ActorID != 0 || ce.Via != audit.ViaCLI {
				t.Errorf("CLI event actor %d via %q, want 0 via cli", ce.ActorID, ce.Via)
			}
			if got, want := detailShape(ce.Detail), detailShape(we.Detail); got != want || (we.Detail == "") != (tt.typ == audit.AccountEnabled) {
				t.Errorf("detail: web %q, CLI %q; want the same format", we.Detail, ce.Detail)
			}
			if tt.typ == audit.UserCreated && (we.Email != ws.email || ce.Email != cs.email) {
				t.Errorf("emails: web %q (want %q), CLI %q (want %q)", we.Email, ws.email, ce.Email, cs.email)
			}
			if tt.typ == audit.SessionRevoked && ce.Detail != "Unknown browser, 127.0.0.1" { // the test client's Go User-Agent
				t.Errorf("CLI session.revoked detail %q, want the web's \"Unknown browser, 127.0.0.1\"", ce.Detail)
			}
			if tt.typ == audit.SessionRevoked && (we.SessionHandle == "" || ce.SessionHandle == "") {
				t.Errorf("session.revoked without the session's handle: web %q, CLI %q", we.SessionHandle, ce.SessionHandle)
			}
		})
	}

	if u := mustUser(t, db, adminEmail); u.Role != user.RoleAdmin || u.Disabled {
		t.Errorf("the admin account changed: %+v", u)
	}
}

// eventOf returns the one event of type typ about account subject.
func eventOf(t *testing.T, db *store.DB, typ audit.Type, subject int64) audit.Event {
	t.Helper()
	events, _, err := db.AuditEvents(t.Context(), audit.Filter{Type: typ, UserID: subject, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var mine []audit.Event
	for _, e := range events {
		if e.SubjectID == subject {
			mine = append(mine, e)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("%d %s events about account %d, want 1: %+v", len(mine), typ, subject, mine)
	}
	return mine[0]
}

var digits = regexp.MustCompile(`[0-9]+`)

// detailShape is an event detail with every number replaced by N, so that
// "valid until 10:42 UTC" and "valid until 10:43 UTC" compare equal.
func detailShape(d string) string { return digits.ReplaceAllString(strings.TrimSpace(d), "N") }
