package user

import (
	"time"

	"github.com/latch/latch/internal/fail"
)

// NewDevice is an account's newest sign-in from a browser, OS and network
// not seen for it in the last 30 days (internal/server newdevice.go): what
// the other sessions' "New sign-in from …" notice shows.
type NewDevice struct {
	// At is the time of the sign-in, in UTC with millisecond precision.
	At time.Time
	// Label names the device for people: "Firefox on Windows".
	Label string
	// Handle is the public handle of the session that signed in.
	Handle string
}

// ErrStateCopyNotWritten means that a change of an account was stored in
// SQL (the source of truth) but the copy of the account's state beside the
// sessions (Redis) could not be written afterwards. The change stands: the
// copy was held before the change, so until it is written or expires every
// request reads the account from SQL (fail closed). Callers report it and
// carry on. Its kind is fail.Unavailable (the store beside the sessions
// failed).
var ErrStateCopyNotWritten = fail.New(fail.Unavailable, "account changed, but its state copy beside the sessions was not updated")
