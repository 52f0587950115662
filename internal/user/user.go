// Package user defines Latch's user account: the User value, its roles, the
// sentinel errors every store returns, and the validation rules for the
// fields a person types in (email address, name, password).
//
// It imports only leaf packages of Latch (internal/fail for the kinds of its
// errors, internal/slots for the strength pool), so every layer can depend on it.
package user

import (
	"time"

	"github.com/latch/latch/internal/fail"
)

// Role is what a user may do. The zero value is not a valid role; stores treat
// an empty Role as RoleUser when creating an account.
type Role string

// The roles Latch knows. The database enforces the same set with a CHECK
// constraint (see migrations/*/00001_users.sql).
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	return r == RoleUser || r == RoleAdmin
}

// User is one account.
type User struct {
	// ID is assigned by the store on creation and never reused.
	ID int64
	// Email is the address as the person entered it, with surrounding
	// spaces trimmed and normalised to Unicode NFKC (see NormalizeEmail;
	// accounts made before NFKC keep the form they were entered in).
	// Lookups use the lower-cased key (EmailLookupKeys).
	Email string
	// Name is the display name, trimmed.
	Name string
	// PasswordHash is a PHC string ($argon2id$...) or, for imported
	// accounts, a bcrypt hash ($2a$/$2b$/$2y$). Never log it.
	PasswordHash string
	Role         Role
	// Disabled accounts cannot sign in.
	Disabled bool
	// CreatedAt is the creation time in UTC with one-second precision
	// (the same on SQLite and PostgreSQL).
	CreatedAt time.Time
	// SessionsValidAfter is the credential epoch: the time (UTC, whole
	// seconds) of the last password change or reset, disabling or role
	// change. A session in which the password was last entered before it
	// is no longer honoured. Zero means never set.
	SessionsValidAfter time.Time
	// StateVersion grows by one with every change of the fields a
	// session's principal is built from (SessionsValidAfter, Role,
	// Disabled, Email, Name, NewDevice); copies of them kept outside SQL
	// are ordered by it (see state.go).
	StateVersion int64
	// NewDevice is the account's newest sign-in from a new device; zero
	// when there has been none.
	NewDevice NewDevice
	// TimeZone is the IANA time zone the person chose for the times on
	// the pages ("Asia/Seoul"); "" when they chose none (the pages then
	// guess from the browser's language, else use UTC).
	TimeZone string
}

// Sentinel errors returned (wrapped) by stores; match them with errors.Is,
// or their kind with errors.Is(err, fail.NotFound) and so on.
var (
	// ErrNotFound means no user matches the ID or email address (kind
	// fail.NotFound).
	ErrNotFound = fail.New(fail.NotFound, "user not found")
	// ErrEmailTaken means another account already uses the email address,
	// compared case-insensitively (kind fail.Conflict).
	ErrEmailTaken = fail.New(fail.Conflict, "email already registered")
	// ErrInvalid is matched by every *ValidationError (kind fail.Invalid).
	ErrInvalid = fail.New(fail.Invalid, "invalid user input")
	// ErrResetInvalid means a password reset link cannot be used: its
	// token is unknown, it has expired, or it has been used already. The
	// three are deliberately not told apart (kind fail.NotFound).
	ErrResetInvalid = fail.New(fail.NotFound, "password reset link is unknown, expired or used")
)

// ValidationError says which field is wrong and why, in words meant for the
// person who typed it. errors.Is(err, ErrInvalid) reports true for it.
type ValidationError struct {
	// Field is "email", "name" or "password".
	Field string
	// Message is a plain-English sentence, e.g. "Use at least 12 characters".
	Message string
}

// Error returns the person-readable message.
func (e *ValidationError) Error() string { return e.Message }

// Unwrap returns ErrInvalid so callers can match any validation failure.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// NextCredentialEpoch returns the credential epoch (unix seconds) that a
// change made at time at gives an account whose epoch is now u's: at, but
// always at least one second past the current one, so every change yields
// a new epoch. internal/store implements the same rule in SQL
// (epochAssignment); the server binds a session to the result, so a
// concurrent second change makes the bound value wrong and ends that
// session: the race fails closed.
func (u *User) NextCredentialEpoch(at time.Time) int64 {
	var current int64
	if !u.SessionsValidAfter.IsZero() {
		current = u.SessionsValidAfter.Unix()
	}
	return max(current+1, at.Unix())
}
