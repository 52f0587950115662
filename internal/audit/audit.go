// Package audit defines Latch's security events: what is recorded when
// someone signs in, signs out, or changes sessions, accounts or roles. The
// SQL store keeps them (internal/store); internal/account records those of
// account operations (for the web and the CLI alike), the server those of
// sign-ins. Events never hold a password, hash or session token; sessions are
// named by their public handle.
package audit

import "time"

// Type names a kind of security event. The string values are stored in
// the database and shown in the admin audit view.
type Type string

// Event types (OWASP ASVS 5.0 V16.3: log authentication events, session
// management and privilege changes).
const (
	LoginSucceeded  Type = "login.succeeded"
	LoginFailed     Type = "login.failed"
	Logout          Type = "logout"
	SessionRevoked  Type = "session.revoked"  // one session ended by its user, an admin, the CLI or the per-user limit
	SessionsRevoked Type = "sessions.revoked" // several sessions ended at once ("sign out everywhere else", kill all)
	AccountDisabled Type = "account.disabled"
	AccountEnabled  Type = "account.enabled"
	RoleChanged     Type = "role.changed"
	UserCreated     Type = "user.created"
	Reauthenticated Type = "reauth.succeeded" // password entered again for a sensitive action (sudo mode)
	LoginNewDevice  Type = "login.new_device" // a sign-in from a browser, OS and network not seen for the account in 30 days

	// Passwords. A change or a reset ends every other session of the account.
	PasswordChanged   Type = "password.changed"    // by its owner, who typed the current one
	PasswordReset     Type = "password.reset"      // set with a one-time reset link
	PasswordResetLink Type = "password.reset_link" // a reset link was made (admin or CLI); never holds the link
)

// Types lists every event type, for filters in the admin view.
var Types = []Type{
	LoginSucceeded, LoginFailed, Logout, SessionRevoked, SessionsRevoked,
	AccountDisabled, AccountEnabled, RoleChanged, UserCreated, Reauthenticated,
	LoginNewDevice, PasswordChanged, PasswordReset, PasswordResetLink,
}

// Via says through which channel an action was taken.
type Via string

// Channels of an action.
const (
	ViaSelf   Via = "self"   // the user, on their own account
	ViaAdmin  Via = "admin"  // an administrator, in the web admin
	ViaCLI    Via = "cli"    // an operator, with the latch command
	ViaApp    Via = "app"    // the user, from a native app (the JSON API, /api/v1)
	ViaLimit  Via = "limit"  // Latch itself: LATCH_MAX_SESSIONS_PER_USER exceeded
	ViaSystem Via = "system" // Latch itself, otherwise
)

// MaxEmailBytes caps the email stored with login events (it is stored as
// typed, so it may be anything a client sent).
const MaxEmailBytes = 254

// MaxUserAgentBytes caps the stored User-Agent.
const MaxUserAgentBytes = 512

// Event is one security event.
type Event struct {
	ID            int64
	Time          time.Time // UTC, second precision
	Type          Type
	Via           Via    // channel of the action ("" for plain logins)
	ActorID       int64  // user who acted; 0 = nobody known (e.g. a failed login, the CLI)
	SubjectID     int64  // user affected; 0 = unknown (e.g. a failed login for an unknown email)
	Email         string // email as typed (login events), at most MaxEmailBytes
	IP            string // client IP
	UserAgent     string // at most MaxUserAgentBytes
	SessionHandle string // public handle of the session concerned, if one
	Detail        string // short plain-language detail, e.g. "role user → admin", "3 sessions"
}

// Filter selects events. Zero fields do not filter.
type Filter struct {
	UserID int64     // events where this user is the actor or the subject
	Type   Type      // only this type
	Since  time.Time // at or after
	Until  time.Time // before
	Offset int       // rows to skip
	Limit  int       // rows to return; 0 means 50, capped at 500
	// NoTotal says the caller does not need the total count (the profile's
	// recent activity): the store then skips counting and returns -1.
	NoTotal bool
	// CountLimit, when above 0, bounds the work of counting: at most
	// Offset+CountLimit+1 matching events are counted, so a total above
	// Offset+CountLimit means "more than Offset+CountLimit" (the admin
	// page says "more than 1,000 events" rather than count a million
	// rows on every view). 0 counts every match.
	CountLimit int
}
