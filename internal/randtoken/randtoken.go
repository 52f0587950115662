// Package randtoken makes and checks the random strings Latch hands out:
// session handles, CSRF tokens and password reset tokens, written in the
// unpadded URL-safe base64 alphabet (RFC 4648 §5). scs makes session
// tokens the same way (32 bytes from crypto/rand), so Valid checks those
// too. It imports nothing of Latch.
package randtoken

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns nbytes bytes from crypto/rand in unpadded URL-safe base64:
// 22 characters for 16 bytes, 43 for 32. crypto/rand.Read never fails
// (Go 1.24+), so neither does New.
func New(nbytes int) string {
	b := make([]byte, nbytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Valid reports whether s can be a string New(nbytes) made: exactly
// base64.RawURLEncoding.EncodedLen(nbytes) characters, each from the
// URL-safe base64 alphabet (A-Z a-z 0-9 - _). Callers look up only strings
// that pass, so junk never reaches a store.
func Valid(s string, nbytes int) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(nbytes) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
