// Package fail is Latch's one error vocabulary. Every package that can fail
// in a way a caller must tell apart wraps its error with one of a few
// kinds (invalid input, not found, conflict, unauthorized, forbidden,
// throttled, unavailable, busy); the HTTP layer turns a kind into a status
// and a page in one table (internal/server/errors.go), the CLI into an exit
// status, and no caller needs to know which package an error came from.
//
// The shape follows Ben Johnson's WTF Dial (wtf.Error{Code}) and pkgsite's
// internal/derrors. A Kind is itself an error, so callers test with
// errors.Is(err, fail.Unavailable); package sentinels keep working too:
//
//	var ErrNotFound = fail.New(fail.NotFound, "user: not found")
//	errors.Is(err, user.ErrNotFound) // the sentinel itself
//	errors.Is(err, fail.NotFound)    // its kind
//
// This package imports nothing of Latch, so every package may use it.
package fail

import (
	"errors"
	"time"
)

// Kind is what went wrong, as far as a caller needs to know to answer it.
// The zero Kind is Internal: an error nobody classified is a bug or an
// unexpected failure (HTTP 500).
type Kind uint8

// The kinds. The HTTP status each becomes is decided in one place
// (internal/server/errors.go); it is given here only as a guide.
const (
	Internal     Kind = iota // unexpected; 500
	Invalid                  // the input is wrong and the person can fix it; 400/422
	NotFound                 // no such thing (or not visible to this principal); 404
	Conflict                 // the thing exists or changed meanwhile; 409/422
	Unauthorized             // no principal, or wrong credentials; 401 / login page
	Forbidden                // a principal that may not do this; 403
	Throttled                // too many attempts; 429 with Retry-After
	Unavailable              // a dependency (Redis, the database) is down or slow; 503 with Retry-After
	Busy                     // a bounded pool of work (hashing, strength checks) is full; 503 with Retry-After
)

var kindNames = [...]string{
	Internal:     "internal",
	Invalid:      "invalid",
	NotFound:     "not found",
	Conflict:     "conflict",
	Unauthorized: "unauthorized",
	Forbidden:    "forbidden",
	Throttled:    "throttled",
	Unavailable:  "unavailable",
	Busy:         "busy",
}

// String returns the kind's name, e.g. "not found".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Error makes a Kind an error, so that errors.Is(err, fail.NotFound)
// matches any error of that kind.
func (k Kind) Error() string { return k.String() }

// Error is an error of a Kind. Msg is for logs and developers (short,
// lower case, with its package prefix, as "user: not found"); what a person
// is shown is chosen by the adapter that answers. Err, when set, is the
// cause. RetryAfter is how long to wait before trying again (Throttled,
// and a hint for Unavailable and Busy), 0 when unknown.
type Error struct {
	Kind       Kind
	Msg        string
	Err        error
	RetryAfter time.Duration
}

// Error returns Msg and the cause, joined by ": ".
func (e *Error) Error() string {
	switch {
	case e.Err == nil && e.Msg == "":
		return e.Kind.String()
	case e.Err == nil:
		return e.Msg
	case e.Msg == "":
		return e.Err.Error()
	default:
		return e.Msg + ": " + e.Err.Error()
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// New returns an error of kind k with message msg; use it for package
// sentinels (var ErrNotFound = fail.New(fail.NotFound, "user: not found")).
func New(k Kind, msg string) error { return &Error{Kind: k, Msg: msg} }

// Wrap returns err marked as kind k, with msg as context ("" for none).
// Wrap(k, nil, …) is nil. errors.Is(Wrap(k, err, m), err) stays true.
func Wrap(k Kind, err error, msg string) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Msg: msg, Err: err}
}

// Throttle returns a Throttled error that asks the caller to wait
// retryAfter before trying again.
func Throttle(msg string, retryAfter time.Duration) error {
	return &Error{Kind: Throttled, Msg: msg, RetryAfter: retryAfter}
}

// KindOf returns the kind of err: that of the outermost *Error or Kind in
// its chain, Internal when it has none (and for nil).
func KindOf(err error) Kind {
	for err != nil {
		switch e := err.(type) {
		case *Error:
			return e.Kind
		case Kind:
			return e
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if k := KindOf(inner); k != Internal {
					return k
				}
			}
			return Internal
		default:
			return Internal
		}
	}
	return Internal
}

// RetryAfterOf returns the RetryAfter of the outermost *Error in err's
// chain that sets one, 0 when none does.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	for errors.As(err, &e) {
		if e.RetryAfter > 0 {
			return e.RetryAfter
		}
		err = e.Err
	}
	return 0
}
