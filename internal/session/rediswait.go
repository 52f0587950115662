package session

import (
	"context"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/redisconn"
)

// ErrNotReplicated is returned (wrapped, with ErrUnavailable) by a
// revocation that Redis ran on the master but that no replica acknowledged
// in time, or, when the store requires a replica (RequireReplica), that
// found no replica connected: a failover now could bring the ended
// sessions back, so the revocation is reported as failed (HTTP 503, CLI
// non-zero exit), never as done (issue 9, "Killed sessions stay dead across a failover").
var ErrNotReplicated = fail.New(fail.Unavailable, "session: revocation not acknowledged by a Redis replica")

// MinReplicaWait is the least time a revocation waits for a replica
// (WAIT's timeout is the store's timeout, or this if longer). A replica
// acknowledges at once when asked, except, in Redis 7.0, the first write
// after it synchronised (a new replica, or any after a failover), which it
// acknowledges only with its periodic REPLCONF ACK, once a second
// (measured: 0.9 s): a shorter bound would fail that revocation for nothing.
const MinReplicaWait = 1500 * time.Millisecond

// evalDurable is eval for the scripts that end sessions (and the hold
// that guards an account change, HoldUserState): when ended(reply) says
// the script ended at least one session, it waits on the same
// connection for a replica to acknowledge the write (redisconn.WaitReplicas:
// ROLE, and WAIT 1 <max(store timeout, MinReplicaWait)> when the master
// has replicas; without replicas no WAIT is sent, and the call fails when
// the store requires a replica, RequireReplica). A script that ended
// nothing costs nothing more. The whole call is bounded by twice the
// store's timeout (the script, ROLE) plus twice WAIT's (WaitReplicas's
// read bound); with no store timeout, only by ctx and WAIT's.
//
// If the wait fails the script is not run again (it may well have run),
// and the error wraps ErrNotReplicated (kind fail.Unavailable) and
// ErrUnavailable. Other failures are eval's.
func (s *RedisStore) evalDurable(ctx context.Context, op string, script *redis.Script, ended func(reply any) bool, args ...any) (any, error) {
	wait := max(s.timeout, MinReplicaWait)
	bound := time.Duration(0)
	if s.timeout > 0 {
		bound = 2*s.timeout + 2*wait
	}
	ctx, cancel := deadline.Bound(ctx, bound)
	defer cancel()
	reply, err := redisconn.Do(ctx, s.pool, func(conn redis.Conn) (any, error) {
		reply, err := script.DoContext(ctx, conn, args...)
		if err != nil || !ended(reply) {
			return reply, err
		}
		if err := redisconn.WaitReplicas(ctx, conn, wait, s.requireReplica); err != nil {
			// %v, not %w: a connection that died now must not make
			// redisconn.Do run the script again as if it had not run.
			return nil, fmt.Errorf("%w: %v", ErrNotReplicated, err)
		}
		return reply, nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: redis %s: %w: %w", op, ErrUnavailable, err)
	}
	return reply, nil
}

// endedOne is evalDurable's test for a script that returns nil or 0 when
// it ended nothing.
func endedOne(reply any) bool {
	if n, err := redis.Int(reply, nil); err == nil {
		return n > 0
	}
	return reply != nil
}

// endedAny is evalDurable's test for a script that returns the records of
// the sessions it ended.
func endedAny(reply any) bool {
	items, err := redis.Values(reply, nil)
	return err != nil || len(items) > 0 // an unexpected reply: wait, to be safe
}

// endedByLimit is evalDurable's test for commitScript: {1, records...}
// when a login's session limit ended other sessions.
func endedByLimit(reply any) bool {
	items, err := redis.Values(reply, nil)
	return err == nil && len(items) > 1
}
