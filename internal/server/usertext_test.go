package server

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latch/latch/internal/user"
)

// TestUserTextInKorean: the account rules' English messages — field rules
// and the strength check's composed message, for passwords that hit each
// kind of weakness — are shown in Korean, with no English phrase of the
// catalogue left; in English they are unchanged.
func TestUserTextInKorean(t *testing.T) {
	a := newTestApp(t)
	ko := httptest.NewRequest("GET", "/register", nil)
	ko.Header.Set("Accept-Language", "ko")
	en := httptest.NewRequest("GET", "/register", nil)

	var msgs []string
	for _, in := range [][3]string{
		{"", "", ""}, {"not an address", "Bob", "x"}, {"a@b.c", "Bob\u200b", "short"},
		{"<a@b.c>", strings.Repeat("n", 101), strings.Repeat("p", 1100)}, {"a\x01@b.c", "Bob\x01", "\xff\xfe"},
	} {
		for _, m := range user.ValidateRegistration(in[0], in[1], in[2]) {
			msgs = append(msgs, m)
		}
	}
	for _, pw := range []string{"password1234", "password", "qwertyuiopasdf", "aaaaaaaaaaaa", "abcdefghijkl",
		"bob@example.com Bob", "drowssapdrowssap", "p@ssw0rd1234", "march 14 2026", "19871987",
		strings.Repeat("correct horse ", 3)} {
		if m := user.CheckPasswordStrength(pw, "bob@example.com", "Bob"); m != "" {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) < 15 {
		t.Fatalf("only %d messages to check", len(msgs))
	}
	english := englishSentences(t, a)
	for _, m := range msgs {
		if got := a.srv.userText(en, m); got != m {
			t.Errorf("English: %q became %q", m, got)
		}
		got := a.srv.userText(ko, m)
		for frag, id := range english {
			if strings.HasPrefix(id, "user.") && strings.Contains(got, frag) {
				t.Errorf("Korean of %q = %q: English %q left", m, got, frag)
			}
		}
		if !strings.ContainsFunc(got, func(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }) {
			t.Errorf("Korean of %q = %q: no Hangul", m, got)
		}
	}
}
