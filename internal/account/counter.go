package account

import "github.com/latch/latch/internal/audit"

// Counter counts what the account operations do to sessions: the metrics
// latch_sessions_created_total and latch_sessions_revoked_total
// (*metrics.Recorder implements it). Deps.Counter nil counts nothing. The
// operations count here, once, whichever adapter (pages, API, CLI) called
// them.
type Counter interface {
	// SessionCreated counts one session created by a sign-in.
	SessionCreated()
	// SessionsRevoked counts n sessions revoked, by cause (Cause*).
	SessionsRevoked(cause string, n int)
}

// Causes of a revocation, the cause label of latch_sessions_revoked_total.
// The server adds logout, limit and stale for the revocations it does
// itself.
const (
	CauseUser           = "user"            // the person ended one or all other of their sessions
	CauseAdmin          = "admin"           // an administrator or the CLI ended sessions (kill, kill all, role change)
	CauseDisabled       = "disabled"        // the account was disabled
	CausePasswordChange = "password_change" // the person changed the password (all other sessions)
	CausePasswordReset  = "password_reset"  // a reset link was used (all sessions)
)

// causeOf is the cause of a revocation a asked for: CauseAdmin for an
// administrator or the CLI, else CauseUser.
func causeOf(a Actor) string {
	if a.Via == audit.ViaAdmin || a.Via == audit.ViaCLI {
		return CauseAdmin
	}
	return CauseUser
}

// noCounter is the Counter of a Service built without one.
type noCounter struct{}

func (noCounter) SessionCreated()             {}
func (noCounter) SessionsRevoked(string, int) {}
