package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Errors returned by Latch's session stores and Manager.
var (
	// ErrUnavailable wraps every failure to reach the session store (Redis
	// down or stalled, SQL errors). The server answers 503 with Retry-After.
	ErrUnavailable = errors.New("session store unavailable")

	// ErrGone is returned by an update-only commit when the session no longer
	// exists in the store: it was revoked (logout, admin kill) or expired
	// while the request was in flight. The write is refused so that a revoked
	// session can never be brought back ("resurrection", NOTES-scs.md).
	ErrGone = errors.New("session no longer exists")
)

// Store is what Latch's session stores provide: scs's context-aware store
// whose CommitCtx creates a session only when the context says so (see
// WithCreate) and otherwise only updates one that still exists, plus the
// Registry that lists and revokes sessions by handle.
type Store interface {
	scs.CtxStore
	Registry
	// Rotate moves the session of oldToken to newToken (same data, expiry,
	// handle and index entries) in one atomic step, or returns ErrGone when
	// the old session no longer exists. Used for re-authentication.
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

func isCreate(ctx context.Context) bool {
	v, _ := ctx.Value(createKey{}).(bool)
	return v
}

// HashToken returns the store key for a session token: the lowercase hex
// SHA-256 of the token (64 characters). Stores never see or keep the raw
// token, so a dump of Redis or of the sessions table yields no usable cookie
// (OWASP ASVS 5.0 V7.2.3 asks for tokens that cannot be reused from storage).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// withTimeout bounds one store operation; d <= 0 means no extra bound.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
