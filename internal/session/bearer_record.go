package session

import (
	"strings"
	"unicode/utf8"
)

// Kind tells a browser session from an app session in the registry.
type Kind string

// The kinds of session. A browser session is authenticated by the session
// cookie only (Middleware), an app session by its bearer token only
// (BearerMiddleware); neither loads as the other.
const (
	KindBrowser Kind = ""    // signed in with the login form; authenticated by the session cookie
	KindApp     Kind = "app" // signed in with POST /api/v1/sessions; authenticated by a bearer token
)

// appAgentMark starts the stored User-Agent of an app session, followed
// by its device name, another 0x01 and the app's User-Agent. The registry
// keeps an app session's kind and device name in the User-Agent slot of
// its stores (the Redis hash field ua, the SQL column user_agent), so that
// telling the kinds apart needs no new Redis field and no migration. The
// encoding cannot be forged: a User-Agent header never holds a control
// character (RFC 9110 §5.5; net/http refuses such a header), and device
// names are refused when they hold one (ValidDeviceName).
const appAgentMark = "\x01app\x01"

// storedAgent is what the stores keep in their User-Agent slot for rec.
func storedAgent(rec Record) string {
	if rec.Kind != KindApp {
		return rec.UserAgent
	}
	return appAgentMark + rec.DeviceName + "\x01" + rec.UserAgent
}

// withStoredAgent returns rec with UserAgent, Kind and DeviceName read
// from stored, the stores' User-Agent slot (storedAgent).
func withStoredAgent(rec Record, stored string) Record {
	rest, ok := strings.CutPrefix(stored, appAgentMark)
	if !ok {
		rec.UserAgent = stored
		return rec
	}
	rec.Kind = KindApp
	rec.DeviceName, rec.UserAgent, _ = strings.Cut(rest, "\x01")
	return rec
}

// MaxDeviceNameBytes caps an app session's device name.
const MaxDeviceNameBytes = 64

// ValidDeviceName reports whether name can be an app session's device
// name: at most MaxDeviceNameBytes bytes of valid UTF-8 without control
// characters ("" is valid: the API then uses DefaultDeviceName).
func ValidDeviceName(name string) bool {
	if len(name) > MaxDeviceNameBytes || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// DefaultDeviceName names an app session whose sign-in gave no device name.
const DefaultDeviceName = "Unnamed app"
