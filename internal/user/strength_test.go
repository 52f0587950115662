package user

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPasswordHints(t *testing.T) {
	tests := []struct {
		name         string
		email, uname string
		want         []string
	}{
		{"plain", "Ada@Example.com", "Ada Lovelace", []string{"ada@example.com", "ada", "example", "Ada Lovelace", "Ada", "Lovelace"}},
		{"dotted local part", " grace.hopper@navy.mil ", "Grace", []string{"grace.hopper@navy.mil", "grace.hopper", "grace", "hopper", "navy", "Grace"}},
		{"nothing usable", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, PasswordHints(tt.email, tt.uname)); diff != "" {
				t.Errorf("PasswordHints(%q, %q) (-want +got):\n%s", tt.email, tt.uname, diff)
			}
		})
	}
}

func TestCheckPasswordStrength(t *testing.T) {
	hints := PasswordHints("ada@example.com", "Ada Lovelace")
	tests := []struct {
		name  string
		pw    string
		hints []string
		want  string // "" = accepted; else a part of the message
	}{
		{"passphrase", "correct horse battery staple", hints, ""},
		{"another passphrase", "purple monkey dishwasher", hints, ""},
		{"long random", "Tr0ub4dor&3xyz-qv", hints, ""},
		{"common password", "password1234", hints, "it is a commonly used password"},
		{"top ten", "123456789", hints, "it is one of the ten most common passwords"},
		{"contains a top ten", "sunshine12345", hints, "it contains one of the ten most common passwords"},
		{"keyboard row", "qwertyuiopasdf", hints, "it contains one of the hundred most common passwords. "},
		{"repeat", "aaaaaaaaaaaa", hints, "it repeats characters or words"},
		{"sequence", "abcdefghijkl", hints, "it contains a sequence"},
		{"contains the name", "Ada Lovelace 1815", hints, "it contains your name or email address"},
		{"contains the email", "ada@example.com!", hints, "it contains your name or email address"},
		{"common password plus a year", "iloveyou2024!", hints, "it contains one of the hundred most common passwords"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckPasswordStrength(tt.pw, tt.hints...)
			switch {
			case tt.want == "" && got != "":
				t.Errorf("CheckPasswordStrength(%q) = %q, want accepted", tt.pw, got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("CheckPasswordStrength(%q) = %q, want a message containing %q", tt.pw, got, tt.want)
			case tt.want != "" && !strings.HasPrefix(got, msgPasswordGuessable):
				t.Errorf("CheckPasswordStrength(%q) = %q, want it to start with %q", tt.pw, got, msgPasswordGuessable)
			}
		})
	}

	// The name is what makes it weak: without the hints it passes.
	if got := CheckPasswordStrength("Ada Lovelace 1815"); got != "" {
		t.Errorf("without hints, %q = %q; the test above would not show the hints are used", "Ada Lovelace 1815", got)
	}
}

// TestCheckPasswordStrengthIsBounded: the longest password accepted (1024
// bytes) is judged in a bounded time, since zxcvbn only sees the first
// maxStrengthRunes characters.
func TestCheckPasswordStrengthIsBounded(t *testing.T) {
	for _, pw := range []string{strings.Repeat("passwordqwerty12", 64), strings.Repeat("ж", 512)} {
		start := time.Now()
		CheckPasswordStrength(pw, "someone@example.com")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("judging a %d-byte password took %v", len(pw), d)
		}
	}
	if got := firstRunes("жжж", 2); got != "жж" {
		t.Errorf("firstRunes = %q, want жж", got)
	}
	if got := firstRunes("ab", 5); got != "ab" {
		t.Errorf("firstRunes = %q, want ab", got)
	}
}

func TestValidateNewPassword(t *testing.T) {
	if got := ValidateNewPassword("short"); got != msgPasswordShort {
		t.Errorf("short: %q, want the length message first", got)
	}
	if got := ValidateNewPassword("password1234"); !strings.HasPrefix(got, msgPasswordGuessable) {
		t.Errorf("password1234: %q, want the guessable message", got)
	}
	if got := ValidateNewPassword("correct horse battery staple", "ada"); got != "" {
		t.Errorf("passphrase: %q, want accepted", got)
	}
	// Registration judges the password against the email and name.
	errs := ValidateRegistration("ada@example.com", "Ada Lovelace", "Ada Lovelace 1815")
	if !strings.Contains(errs["password"], "your name or email address") {
		t.Errorf("registration with the name in the password: %q", errs["password"])
	}
}
