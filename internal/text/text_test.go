package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"cut", "abcdef", 5, "abcde"},
		{"zero", "abc", 0, ""},
		{"no cut", strings.Repeat("x", 1000), -1, strings.Repeat("x", 1000)},
		{"keeps a whole character", "aé", 3, "aé"},
		{"does not split a character", "aé", 2, "a"},
		{"does not split a 4-byte character", "a😀", 4, "a"},
		{"invalid bytes replaced", "a\xffb", 10, "a\uFFFDb"},
		{"a run of invalid bytes is one replacement", "a\xff\xfeb", 10, "a\uFFFDb"},
		{"replacement counted before the cut", "\xffab", 3, "\uFFFD"},
		{"invalid and no cut", "\xff", -1, "\uFFFD"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if !utf8.ValidString(got) || (tt.n >= 0 && len(got) > tt.n) {
				t.Errorf("Truncate(%q, %d) = %q: invalid or too long", tt.in, tt.n, got)
			}
		})
	}
}
