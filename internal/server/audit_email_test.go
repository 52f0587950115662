package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/throttle"
)

// TestPasswordInEmailBoxNeverAudited is the regression test of issue 12
// item 9: a password typed into the email box (a failed login, and the
// refusals once throttled) never reaches an audit event; what is stored
// is a marker with its length. A real address is still stored as typed.
func TestPasswordInEmailBoxNeverAudited(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{AccountIP: throttle.Quota{Count: 2, Period: time.Hour}})
	const secret = "pw-bob is my passphrase"
	c := a.newClient(firefoxAgent)
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		res, body := loginAs(c, secret, "pw-bob")
		if res.StatusCode != want {
			t.Fatalf("attempt %d: status %d, want %d\n%s", i+1, res.StatusCode, want, body)
		}
	}
	res, body := loginAs(c, " Bob@Example.com ", "wrong password")
	wantStatus(t, res, body, http.StatusUnauthorized)

	var emails []string
	for _, e := range a.audit.all() {
		if s := fmt.Sprintf("%+v", e); strings.Contains(s, "passphrase") {
			t.Errorf("an audit event holds the text typed into the email box: %s", s)
		}
		if e.Type == audit.LoginFailed {
			emails = append(emails, e.Email)
		}
	}
	want := "(not an email address, 23 characters)"
	if len(emails) != 4 || emails[0] != want || emails[1] != want || emails[2] != want || emails[3] != "Bob@Example.com" {
		t.Errorf("failed-login emails = %q, want 3 × %q (2 failures, 1 throttled) and the address", emails, want)
	}
}

func TestAuditEmail(t *testing.T) {
	for in, want := range map[string]string{
		"bob@example.com":        "bob@example.com",
		"  Bob@Example.com ":     "Bob@Example.com",
		"correct horse battery":  "(not an email address, 21 characters)",
		"x":                      "(not an email address, 1 character)",
		"<script>@example.com":   "(not an email address, 20 characters)",
		"pässwörd":               "(not an email address, 8 characters)",
		"bob@example.com\x00pw!": "(not an email address, 19 characters)",
	} {
		if got := auditEmail(in); got != want {
			t.Errorf("auditEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheapHashFailureStillCounted: a wrong password at an account whose
// hash is cheaper than the current parameters also pays the dummy
// verification and is padded; when that extra verification fails (the
// hashing pool is busy) the answer is still the plain 401 and the guess
// stays counted: a 503 with a refund would be a free oracle for wrong
// passwords.
func TestCheapHashFailureStillCounted(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{AccountIP: throttle.Quota{Count: 2, Period: time.Hour}})
	a.hasher.cheaper, a.hasher.dummyErr = true, errors.New("password: too many hashes in progress")
	c := a.newClient(firefoxAgent)
	for range 2 {
		res, body := loginAs(c, "bob@example.com", "wrong password")
		wantStatus(t, res, body, http.StatusUnauthorized)
	}
	if a.hasher.dummies != 2 || a.hasher.pads != 2 {
		t.Errorf("2 failures at a cheap hash: %d dummy verifications, %d paddings; want 2 and 2", a.hasher.dummies, a.hasher.pads)
	}
	res, body := loginAs(c, "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusTooManyRequests)
}
