package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/user"
)

// Errors returned by Latch's session stores and Manager.
var (
	// ErrUnavailable wraps every failure to reach the session store (Redis
	// down or stalled, SQL errors). Its kind is fail.Unavailable; the server answers
	// 503 with Retry-After.
	ErrUnavailable = fail.New(fail.Unavailable, "session store unavailable")

	// ErrGone is returned by an update-only commit when the session no longer
	// exists in the store: it was revoked (logout, admin kill) or expired
	// while the request was in flight. The write is refused so that a revoked
	// session can never be brought back: scs's own stores write the whole
	// session unconditionally, so a request that loaded it before the revoke
	// and commits after it re-creates the deleted key and the old cookie
	// works again ("resurrection").
	// Its kind is fail.Unauthorized: the person is signed out.
	ErrGone = fail.New(fail.Unauthorized, "session no longer exists")

	// ErrRotated is returned by Store.Rotate (and Manager.Reauthenticate)
	// when the old session no longer exists because a parallel
	// re-authentication of the same session rotated its token within the
	// last rotatedMarkerTTL, and the rotated session still exists: a double
	// submission. The request that gets it must not perform its action and
	// leaves the cookie alone (the winner's response carries the new one);
	// unlike ErrGone it does not sign the person out (issue 12.10). Its kind
	// is fail.Conflict.
	ErrRotated = fail.New(fail.Conflict, "session token was rotated by a parallel request")
)

// rotatedMarkerTTL is how long after a rotation the old token is known to
// have been rotated (not revoked): long enough for a double submission,
// short enough that the marker says nothing about the old token later.
const rotatedMarkerTTL = time.Minute

// Store is what Latch's session stores provide: scs's context-aware store
// whose CommitCtx creates a session only when the context says so (see
// WithCreate) and otherwise only updates one that still exists, plus the
// Registry that lists and revokes sessions by handle.
type Store interface {
	scs.CtxStore
	Registry
	// Rotate moves the session of oldToken to newToken (same data, expiry,
	// handle and index entries) in one atomic step, and remembers for
	// rotatedMarkerTTL that oldToken was rotated. When the old session no
	// longer exists it returns ErrRotated if it was rotated meanwhile and
	// the rotated session lives, else ErrGone. Used for re-authentication.
	// The same marker is read by FindCtx when the Manager loads a token
	// whose session is not found (Manager.RotatedAway), so a store wrapper
	// must pass FindCtx's context through unchanged.
	Rotate(ctx context.Context, oldToken, newToken string) error
}

type keepOnRenewKey struct{}

// KeepOnRenew reports whether ctx asks DeleteCtx to leave the session in
// place because the Manager is about to Rotate it (scs.RenewToken deletes
// the old token itself). Every Store's DeleteCtx must honour it.
func KeepOnRenew(ctx context.Context) bool {
	v, _ := ctx.Value(keepOnRenewKey{}).(bool)
	return v
}

type createKey struct{}

// WithCreate marks ctx so that the next CommitCtx may create a new session
// record. Without it CommitCtx only overwrites an existing record and
// returns ErrGone when there is none. The Manager sets it when a token was
// just issued (login, token renewal); every other write is update-only.
func WithCreate(ctx context.Context) context.Context {
	return context.WithValue(ctx, createKey{}, true)
}

// IsCreate reports whether ctx was marked WithCreate: the one CommitCtx
// that may create a session. Every Store's CommitCtx must honour it.
func IsCreate(ctx context.Context) bool {
	v, _ := ctx.Value(createKey{}).(bool)
	return v
}

type createOptsKey struct{}

// createOpts passes what a session-creating commit also does from the
// Manager to the store: enforce the per-user session limit (revoking the
// oldest logins, returned in revoked) and, for stores that keep account
// state copies, write the signed-in account's copy in the same step.
type createOpts struct {
	limit   int        // sessions per user, 0 = no limit
	user    *user.User // the account signing in, as read from SQL; nil = none
	revoked []Record   // set by the store: sessions ended by the limit
}

func withCreateOpts(ctx context.Context, o *createOpts) context.Context {
	return context.WithValue(ctx, createOptsKey{}, o)
}

func createOptsFrom(ctx context.Context) *createOpts {
	o, _ := ctx.Value(createOptsKey{}).(*createOpts)
	return o
}

// HashToken returns the store key for a session token: the lowercase hex
// SHA-256 of the token (64 characters). Stores never see or keep the raw
// token, so a dump of Redis or of the sessions table yields no usable cookie
// (OWASP ASVS 5.0 V7.2.3 asks for tokens that cannot be reused from storage).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
