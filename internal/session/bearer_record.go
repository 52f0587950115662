package session

import (
	"strings"
	"unicode"
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

// Bounds of an app session's device name: MaxDeviceNameChars characters
// (Unicode code points, as JSON Schema's maxLength counts them, which the
// OpenAPI document states), and so at most MaxDeviceNameBytes bytes of
// UTF-8 (4 bytes a character at most).
const (
	MaxDeviceNameChars = 64
	MaxDeviceNameBytes = 4 * MaxDeviceNameChars
)

// ValidDeviceName reports whether name can be an app session's device
// name: valid UTF-8 of at most MaxDeviceNameChars characters, none of them
// a control character (Unicode category Cc: they would break the stored
// encoding, appAgentMark) or a format character (category Cf: U+202E
// RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE, U+FEFF BOM, …, which
// make one name look like another on the devices page). "" is valid: the
// API then uses DefaultDeviceName.
func ValidDeviceName(name string) bool {
	if len(name) > MaxDeviceNameBytes || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxDeviceNameChars {
		return false
	}
	for _, r := range name {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// DefaultDeviceName names an app session whose sign-in gave no device name.
const DefaultDeviceName = "Unnamed app"
