// Package text bounds the strings Latch keeps or echoes from clients
// (User-Agent headers, typed email addresses, paths in log lines). It
// imports nothing of Latch.
package text

import (
	"strings"
	"unicode/utf8"
)

// Truncate returns s as valid UTF-8 (each run of invalid bytes becomes
// U+FFFD) cut to at most n bytes without splitting a character; n < 0
// means no cut. The result may be shorter than n by up to 3 bytes when a
// multi-byte character straddles the limit.
func Truncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if n < 0 || len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
