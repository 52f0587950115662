package randtoken

import (
	"strings"
	"testing"
)

func TestNewIsValid(t *testing.T) {
	for _, tt := range []struct {
		nbytes, chars int
	}{{16, 22}, {32, 43}} {
		seen := map[string]bool{}
		for range 100 {
			s := New(tt.nbytes)
			if len(s) != tt.chars || !Valid(s, tt.nbytes) {
				t.Fatalf("New(%d) = %q: want %d valid characters", tt.nbytes, s, tt.chars)
			}
			if seen[s] {
				t.Fatalf("New(%d) repeated %q", tt.nbytes, s)
			}
			seen[s] = true
		}
	}
}

func TestValid(t *testing.T) {
	ok43 := strings.Repeat("aZ0-_", 8) + "abc"
	for _, tt := range []struct {
		name   string
		s      string
		nbytes int
		want   bool
	}{
		{"token", ok43, 32, true},
		{"handle", ok43[:22], 16, true},
		{"empty", "", 32, false},
		{"one short", ok43[:42], 32, false},
		{"one long", ok43 + "a", 32, false},
		{"handle length for a token", ok43[:22], 32, false},
		{"padding", ok43[:42] + "=", 32, false},
		{"standard alphabet plus", ok43[:42] + "+", 32, false},
		{"standard alphabet slash", ok43[:42] + "/", 32, false},
		{"dot", ok43[:42] + ".", 32, false},
		{"NUL", ok43[:42] + "\x00", 32, false},
		{"non-ASCII", ok43[:41] + "é", 32, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid(tt.s, tt.nbytes); got != tt.want {
				t.Errorf("Valid(%q, %d) = %v, want %v", tt.s, tt.nbytes, got, tt.want)
			}
		})
	}
}
