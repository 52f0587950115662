package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/user"
)

var resetLinkLine = regexp.MustCompile(`^(https?://[^/\s]+)/reset/([A-Za-z0-9_-]{43})\n$`)

// resetLinkOf checks that stdout is one reset link and returns its origin
// and token.
func resetLinkOf(t *testing.T, stdout string) (origin, token string) {
	t.Helper()
	m := resetLinkLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("stdout %q is not one reset link", stdout)
	}
	return m[1], m[2]
}

func TestCLIResetLink(t *testing.T) {
	env := newCLIEnv(t)
	if out := env.run(t, "a long pass phrase\n", "user", "create", "--email", "Ada@Example.com", "--name", "Ada", "--password-stdin"); out.code != exitOK {
		t.Fatalf("user create: exit %d\n%s", out.code, out.stderr)
	}
	db := env.openDB(t)
	ada := mustUser(t, db, "ada@example.com")

	out := env.ok(t, "user", "reset-link", "ada@example.com")
	origin, first := resetLinkOf(t, out.stdout)
	if origin != "http://127.0.0.1:8080" {
		t.Errorf("link origin %q, want http://LATCH_ADDR (default 127.0.0.1:8080)", origin)
	}
	if !strings.Contains(out.stderr, "user 1 <Ada@Example.com>: works once, until ") {
		t.Errorf("stderr %q, want what the link is for and until when", out.stderr)
	}
	if id, err := db.PasswordResetUser(t.Context(), first, time.Now()); err != nil || id != ada.ID {
		t.Errorf("the printed link: PasswordResetUser = %d, %v; want %d", id, err, ada.ID)
	}
	events := auditLog(t, db, audit.PasswordResetLink)
	if len(events) != 1 || events[0].Via != audit.ViaCLI || events[0].SubjectID != ada.ID || events[0].ActorID != 0 ||
		!strings.HasPrefix(events[0].Detail, "valid until ") || strings.Contains(events[0].Detail, first) {
		t.Errorf("PasswordResetLink events %+v", events)
	}

	// --base-url (before or after EMAIL), and a new link replaces the
	// unused one.
	for _, args := range [][]string{
		{"user", "reset-link", "--base-url", "https://latch.example.com/", "ada@example.com"},
		{"user", "reset-link", "ada@example.com", "--base-url=https://latch.example.com:8443/"},
	} {
		out := env.ok(t, args...)
		origin, token := resetLinkOf(t, out.stdout)
		if !strings.HasPrefix(origin, "https://latch.example.com") {
			t.Errorf("%q: origin %q", args, origin)
		}
		if _, err := db.PasswordResetUser(t.Context(), first, time.Now()); err == nil {
			t.Errorf("%q: the earlier link still works", args)
		}
		first = token
	}

	// A wildcard listen address becomes localhost.
	wild := cliEnv{}
	for k, v := range env {
		wild[k] = v
	}
	wild["LATCH_ADDR"] = "0.0.0.0:9000"
	if origin, _ := resetLinkOf(t, wild.ok(t, "user", "reset-link", "ada@example.com").stdout); origin != "http://localhost:9000" {
		t.Errorf("with LATCH_ADDR=0.0.0.0:9000: origin %q, want http://localhost:9000", origin)
	}

	// No link for a disabled account.
	env.ok(t, "user", "disable", "ada@example.com")
	out = env.run(t, "", "user", "reset-link", "ada@example.com")
	if out.code != exitError || !strings.Contains(out.stderr, "is disabled") || out.stdout != "" {
		t.Errorf("disabled account: exit %d, stdout %q, stderr %q; want 1 and why", out.code, out.stdout, out.stderr)
	}
}

// TestCLIResetLinkDroppedBySetRole: "latch user reset-link bob" then
// "latch user set-role bob admin": the link made for the user no longer
// works for the administrator (README, "Credential epoch").
func TestCLIResetLinkDroppedBySetRole(t *testing.T) {
	env := newCLIEnv(t)
	if out := env.run(t, "a long pass phrase\n", "user", "create", "--email", "bob@example.com", "--name", "Bob", "--password-stdin"); out.code != exitOK {
		t.Fatalf("user create: exit %d\n%s", out.code, out.stderr)
	}
	db := env.openDB(t)
	_, token := resetLinkOf(t, env.ok(t, "user", "reset-link", "bob@example.com").stdout)
	env.ok(t, "user", "set-role", "bob@example.com", "admin")
	if id, err := db.PasswordResetUser(t.Context(), token, time.Now()); !errors.Is(err, user.ErrResetInvalid) {
		t.Errorf("link after set-role admin: PasswordResetUser = %d, %v; want ErrResetInvalid", id, err)
	}
}

func TestCLIResetLinkErrors(t *testing.T) {
	env := newCLIEnv(t)
	if out := env.run(t, "a long pass phrase\n", "user", "create", "--email", "bob@example.com", "--password-stdin"); out.code != exitOK {
		t.Fatalf("user create: exit %d\n%s", out.code, out.stderr)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"unknown email", []string{"user", "reset-link", "nobody@example.com"}, exitError, "no user with email nobody@example.com"},
		{"not an email", []string{"user", "reset-link", "bob"}, exitUsage, "is not an email address"},
		{"no email", []string{"user", "reset-link"}, exitUsage, `want "user reset-link EMAIL [--base-url URL]"`},
		{"two emails", []string{"user", "reset-link", "bob@example.com", "x@example.com"}, exitUsage, `want "user reset-link EMAIL`},
		{"base URL not http", []string{"user", "reset-link", "--base-url", "ftp://example.com", "bob@example.com"}, exitUsage, "--base-url"},
		{"base URL with a query", []string{"user", "reset-link", "--base-url", "https://example.com/?x=1", "bob@example.com"}, exitUsage, "--base-url"},
		{"base URL without host", []string{"user", "reset-link", "--base-url", "latch.example.com", "bob@example.com"}, exitUsage, "--base-url"},
		{"help", []string{"user", "reset-link", "--help"}, exitOK, "Usage: latch user reset-link EMAIL [--base-url URL]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := env.run(t, "", tt.args...)
			if out.code != tt.wantCode || !strings.Contains(out.stderr, tt.wantStderr) {
				t.Errorf("latch %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), out.code, out.stderr, tt.wantCode, tt.wantStderr)
			}
			if tt.wantCode != exitOK && out.stdout != "" {
				t.Errorf("stdout %q on failure, want nothing", out.stdout)
			}
		})
	}
	if out := env.ok(t, "user", "--help"); !strings.Contains(out.stdout, "latch user reset-link EMAIL [--base-url URL]") {
		t.Errorf("user --help lacks reset-link:\n%s", out.stdout)
	}
	if n := len(auditLog(t, env.openDB(t), audit.PasswordResetLink)); n != 0 {
		t.Errorf("%d PasswordResetLink events after failures only, want 0", n)
	}
}

func TestResetBaseURL(t *testing.T) {
	tests := []struct {
		base, addr, want string
		ok               bool
	}{
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"", ":8080", "http://localhost:8080", true},
		{"", "[::]:8080", "http://localhost:8080", true},
		{"", "[::1]:8080", "http://[::1]:8080", true},
		{"", "latch.internal:80", "http://latch.internal:80", true},
		{"https://latch.example.com", "", "https://latch.example.com", true},
		{"https://latch.example.com/auth/", "", "https://latch.example.com/auth", true},
		{"https://user:pw@latch.example.com", "", "", false},
		{"https://latch.example.com#x", "", "", false},
		{"mailto:a@example.com", "", "", false},
	}
	for _, tt := range tests {
		got, err := resetBaseURL(tt.base, tt.addr)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("resetBaseURL(%q, %q) = %q, %v; want %q (ok %v)", tt.base, tt.addr, got, err, tt.want, tt.ok)
		}
	}
}
