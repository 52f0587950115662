package redisconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
)

// ErrNotReplicated is returned by WaitReplicas when the server has
// replicas and none acknowledged the connection's writes in time: they are
// on the master only, and a failover now would lose them.
var ErrNotReplicated = errors.New("redisconn: no replica acknowledged the write in time")

// ErrNoReplica is returned by WaitReplicas when a replica is required and
// the master has none connected. It wraps ErrNotReplicated: the writes are
// on the master only, as when no replica acknowledged them.
var ErrNoReplica = fmt.Errorf("%w: the master has no connected replica", ErrNotReplicated)

// WaitReplicas makes the writes sent so far on conn survive a failover.
// It asks the server for its replicas (ROLE, one round trip); when it has
// at least one, it sends WAIT 1 <timeout in ms> (Redis blocks until one
// replica acknowledged every write this connection made, or the timeout
// passes) and returns ErrNotReplicated (wrapped) if none did.
//
// A master without connected replicas depends on require. When false (one
// Redis, or a Redis Cluster master, deployed without replicas) it costs the
// ROLE round trip only and returns nil: there is no copy a failover could
// promote, and a replica that connects later is synchronised from this
// master first. When true (Redis Sentinel: the deployment has replicas,
// so none connected means they are down or cut off, and one of them may
// be promoted later without the writes) it returns ErrNoReplica and
// sends no WAIT.
//
// ROLE lists connected replicas only: a replica that is cut off but alive
// could still be promoted by Sentinels on its side of a partition. Redis's
// own guard for that is min-replicas-to-write on the master (README).
//
// timeout must be > 0; the read of WAIT's reply is bounded by 2×timeout.
// Other errors are the connection's.
func WaitReplicas(ctx context.Context, conn redis.Conn, timeout time.Duration, require bool) error {
	role, err := redis.Values(redis.DoContext(conn, ctx, "ROLE"))
	if err != nil {
		return fmt.Errorf("redisconn: role: %w", err)
	}
	if len(role) < 3 {
		return fmt.Errorf("redisconn: role: unexpected reply %v", role)
	}
	if kind, _ := redis.String(role[0], nil); kind != "master" {
		return fmt.Errorf("redisconn: role: the server is a %s, not a master", kind)
	}
	replicas, err := redis.Values(role[2], nil)
	if err != nil {
		return fmt.Errorf("redisconn: role: replicas: %w", err)
	}
	if len(replicas) == 0 {
		if require {
			return ErrNoReplica
		}
		return nil
	}
	ms := max(timeout.Milliseconds(), 1)
	acked, err := redis.Int(redis.DoWithTimeout(conn, 2*timeout, "WAIT", 1, ms))
	if err != nil {
		return fmt.Errorf("redisconn: wait: %w", err)
	}
	if acked < 1 {
		return fmt.Errorf("%w (%d replicas connected, none acknowledged within %v)", ErrNotReplicated, len(replicas), timeout)
	}
	return nil
}
