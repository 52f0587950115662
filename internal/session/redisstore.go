package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/redisconn"
)

// RedisStore is Latch's Redis session store for scs, with the session
// registry. It replaces github.com/alexedwards/scs/redisstore, which (as
// read from its source, the pseudo-version go.mod names):
//   - ignores the request context (no CtxStore) and so cannot bound a call to
//     a stalled Redis;
//   - writes with MULTI/SET/PEXPIREAT/EXEC (four commands) and re-creates a
//     key deleted by a logout or revoke while a request was in flight;
//   - keys sessions by the raw token and lists them with KEYS.
//
// redigo stays the client (rather than a client with its own pool and
// script helpers) because scs's stores and Latch's throttle already use it,
// its Script.DoContext gives EVALSHA with a NOSCRIPT fallback, and its pool
// takes a context on borrow (Pool.GetContext, redigo v1.9.3; Pool.Get with
// Wait set would wait forever).
//
// Here every operation is one Redis command (one EVALSHA of a Lua script,
// which Redis runs atomically) on a pooled connection borrowed with
// GetContext and bounded by the store's timeout. Keys, under the prefix P
// and the bucket tag {b} of the session's user (rediskeys.go: every key a
// script touches shares it, so the store works on Redis Cluster too):
//
//	P{b}:s:<sha256(token)>  hash: d (scs data), e (expiry ms) and the Record
//	                        fields h u c s a ip ua r; expires at e
//	P{b}:h:<handle>         string: sha256(token), for revoke by handle
//	P{b}:u:<user id>        sorted set of sha256(token) by expiry: one user's sessions
//	P{b}:ip:<ip>            sorted set of sha256(token) by expiry: the bucket's sessions by client IP
//	P{b}:all                sorted set of sha256(token) by last seen: the admin view (merged over buckets)
//	P{b}:exp                sorted set of sha256(token) by expiry: what Sweep removes
//	P{b}:app                sorted set of sha256(token) by expiry: the bucket's app sessions (CountByKind)
//	P{b}:us:<user id>       hash: the account's state copy (userstate.go)
//	P{b}:r:<sha256(token)>  string: the token's rotated sha256, for a minute (Rotate)
//
// A session and its index entries are written and deleted together in one
// script, so no crash can leave one without the other. An update only
// succeeds while the session hash exists, so a revoked session stays
// revoked; only a commit marked WithCreate may create one. Each script's
// first key (KEYS[1]) is in the bucket it works on, so a cluster client
// sends it to the right node at once.
type RedisStore struct {
	pool           redisconn.Source
	prefix         string
	timeout        time.Duration
	requireReplica bool // RequireReplica
}

var _ Store = (*RedisStore)(nil)

// DefaultRedisPrefix is the key prefix used when NewRedisStore gets "".
const DefaultRedisPrefix = "latch:"

// NewRedisStore returns a store on pool (a single Redis, a Sentinel pool or
// a redisconn.Cluster). prefix "" means DefaultRedisPrefix; a prefix with
// "{" or "}" panics (it would move the hash tag; config rejects it).
// timeout bounds each operation, including the wait for a pooled connection
// (0 = only the caller's context).
func NewRedisStore(pool redisconn.Source, prefix string, timeout time.Duration) *RedisStore {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	if !validPrefix(prefix) {
		panic("session: redis key prefix must not contain { or }")
	}
	return &RedisStore{pool: pool, prefix: prefix, timeout: timeout}
}

// RequireReplica sets whether a revocation (and an account-state hold,
// HoldUserState) must reach a replica: when on, a master without any
// connected replica fails it with ErrNotReplicated, as when no replica
// acknowledged it (redisconn.WaitReplicas with require). cmd/latch turns it
// on in Redis Sentinel mode, where the deployment has replicas by
// definition, so none connected means they are down and one may be
// promoted later without the revocation. Off (the default), a master
// without replicas (one Redis, or a Redis Cluster deployed without
// replicas) ends sessions without waiting. Call it before the store is
// used; it is not safe to call concurrently with the store's operations.
// It returns s.
func (s *RedisStore) RequireReplica(on bool) *RedisStore {
	s.requireReplica = on
	return s
}

// key returns the session key of token and its bucket's key prefix.
func (s *RedisStore) key(token string) (key, base string) {
	th := HashToken(token)
	base = s.base(hashBucket(th))
	return base + "s:" + th, base
}

// eval runs a script with EVALSHA, loading it on NOSCRIPT (redigo's
// Script.DoContext), on a connection borrowed under ctx and bounded by
// s.timeout; a pooled connection that a Redis restart left dead is
// replaced and the script run again (redisconn.Do: every script Latch runs
// is safe to repeat, since a write is guarded by EXISTS). Every failure is
// wrapped in ErrUnavailable.
func (s *RedisStore) eval(ctx context.Context, op string, script *redis.Script, args ...any) (any, error) {
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	reply, err := redisconn.Do(ctx, s.pool, func(conn redis.Conn) (any, error) {
		return script.DoContext(ctx, conn, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("session: redis %s: %w: %w", op, ErrUnavailable, err)
	}
	return reply, nil
}

// FindCtx returns the session data for token with one script (one
// EVALSHA) that also reads the copy of the session's account state (see
// userstate.go) and leaves it in the Manager's slot in ctx, if any. found
// is false when the session does not exist (never created, expired, or
// deleted); then the same script also reads the token's rotation marker
// and tells the slot whether the token was rotated within
// rotatedMarkerTTL into a session that still exists.
func (s *RedisStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	key, base := s.key(token)
	reply, err := s.eval(ctx, "find", findScript, key, base, HashToken(token))
	if err != nil {
		return nil, false, err
	}
	if reply == nil {
		return nil, false, nil
	}
	if n, ok := reply.(int64); ok {
		if slot := loadedUserFrom(ctx); slot != nil && n == 2 {
			slot.rotated = true
		}
		return nil, false, nil
	}
	items, err := redis.ByteSlices(reply, nil)
	if err != nil || len(items) == 0 {
		return nil, false, fmt.Errorf("session: redis find: %w: unexpected reply: %v", ErrUnavailable, err)
	}
	if slot := loadedUserFrom(ctx); slot != nil && len(items) == 13 {
		id, _ := strconv.ParseInt(string(items[1]), 10, 64)
		f := make([]string, 11)
		for i := range f {
			f[i] = string(items[2+i])
		}
		if u, err := parseUserState(id, f); err == nil && id != 0 {
			slot.u = u
		} // a copy that does not parse counts as missing: SQL is read
	}
	return items[0], true, nil
}

// CommitCtx stores b under token until expiry, with the Record the Manager
// put in ctx, in one script. With WithCreate(ctx) the session must not
// exist yet; otherwise it must still exist, else ErrGone. An expiry in the
// past deletes the session. A create under a per-user session limit that
// ends other sessions is a revocation and waits for a replica like one
// (evalDurable).
func (s *RedisStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if !expiry.After(time.Now()) {
		return s.DeleteCtx(ctx, token)
	}
	mode := "update"
	if IsCreate(ctx) {
		mode = "create"
	}
	key, base := s.key(token)
	args := []any{key, mode, b, expiry.UnixMilli(), base, HashToken(token)}
	opts := createOptsFrom(ctx)
	if rec, ok := RecordFrom(ctx); ok && rec.Handle != "" {
		if !s.Fits(rec.UserID, token) || !s.Fits(rec.UserID, rec.Handle) {
			return errPlacement
		}
		remember := 0
		if rec.Remember {
			remember = 1
		}
		args = append(args, rec.Handle, rec.UserID, rec.Created.UnixMilli(), rec.LastSeen.UnixMilli(),
			rec.AbsoluteDeadline.UnixMilli(), rec.IP, storedAgent(rec), remember)
		if mode == "create" && opts != nil {
			args = append(args, time.Now().UnixMilli(), opts.limit)
			if u := opts.user; u != nil && u.ID == rec.UserID {
				args = append(args, 1, UserStateTTL.Milliseconds())
				args = append(args, userStateArgs(u)...)
			}
		}
	}
	eval := s.eval
	if opts != nil && opts.limit > 0 { // the session limit may end other sessions: a revocation
		eval = func(ctx context.Context, op string, script *redis.Script, args ...any) (any, error) {
			return s.evalDurable(ctx, op, script, endedByLimit, args...)
		}
	}
	reply, err := redis.Values(eval(ctx, "commit", commitScript, args...))
	if err != nil {
		return err
	}
	if len(reply) == 0 {
		return fmt.Errorf("session: redis commit: %w: empty reply", ErrUnavailable)
	}
	switch code, _ := redis.Int(reply[0], nil); code {
	case 0:
		return ErrGone
	case -1:
		return fmt.Errorf("session: redis commit: new token already exists: %w", ErrUnavailable)
	}
	if opts != nil && len(reply) > 1 {
		recs, err := parseRecords(reply[1:])
		if err != nil {
			return err // the session is written; the revoked ones are gone either way
		}
		opts.revoked = recs
	}
	return nil
}

// DeleteCtx removes the session and its index entries in one script; a
// missing session is not an error. Deleting one (a logout) is a
// revocation, made durable against a failover (evalDurable: an error
// wrapping ErrNotReplicated if no replica acknowledged it).
func (s *RedisStore) DeleteCtx(ctx context.Context, token string) error {
	if KeepOnRenew(ctx) {
		return nil
	}
	_, base := s.key(token)
	_, err := s.evalDurable(ctx, "delete", deleteScript, endedOne, base, base, HashToken(token))
	return err
}

// Find implements scs.Store without a context (unused by Latch).
func (s *RedisStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit implements scs.Store without a context (update-only).
func (s *RedisStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store without a context.
func (s *RedisStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
