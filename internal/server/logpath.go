package server

import (
	"net/http"
	"strings"

	"github.com/latch/latch/internal/text"
)

// minSecretSegment is the shortest path segment logRoute takes for a
// secret: a reset token is 43 characters of URL-safe base64 (32 random
// bytes), a bearer token "latch_at_" and 43 more. Session handles (22
// characters) are names, not secrets, and stay in the log.
const minSecretSegment = 32

// logRoute is r's path as every log line names it ("route"): at most 200
// bytes, and every segment that could be a secret token — 32 or more
// characters of the URL-safe base64 alphabet — replaced by "redacted".
// hideResetToken already takes the token out of a well-formed reset link;
// this also covers the forms it does not match (//reset/T, /RESET/T,
// /reset;/T, a token pasted anywhere else), which answer 404 and would
// otherwise put the token in the log.
func logRoute(r *http.Request) string {
	p := r.URL.Path
	if !hasLongRun(p) {
		return text.Truncate(p, 200)
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		// A segment with other text (";", ".", "%") around a long run is
		// redacted whole: the run may be the token.
		if hasLongRun(s) {
			segs[i] = "redacted"
		}
	}
	return text.Truncate(strings.Join(segs, "/"), 200)
}

// hasLongRun reports whether p holds a run of minSecretSegment or more
// URL-safe base64 characters (the cheap test before splitting).
func hasLongRun(p string) bool {
	n := 0
	for i := 0; i < len(p); i++ {
		if base64URLByte(p[i]) {
			if n++; n >= minSecretSegment {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

func base64URLByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
