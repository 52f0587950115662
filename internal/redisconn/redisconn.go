// Package redisconn runs one Redis operation on a pooled redigo connection
// and survives the dead idle connections a Redis restart leaves in the
// pool. It imports nothing of Latch, so every package that talks to Redis
// can share it.
package redisconn

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/gomodule/redigo/redis"
)

// MaxStaleRetries bounds how many dead pooled connections (after a Redis
// restart every idle one is) one operation may meet before it gives up.
const MaxStaleRetries = 40

// Source lends Redis connections: a *redis.Pool for one Redis (plain or
// behind Sentinel), or a cluster client adapter. GetContext returns a
// connection the caller closes; a full pool waits at most until ctx ends.
type Source interface {
	GetContext(ctx context.Context) (redis.Conn, error)
}

var _ Source = (*redis.Pool)(nil)

// Do runs fn on a connection borrowed from pool under ctx
// (Source.GetContext, so a full pool waits at most until ctx ends) and
// closes it. When the connection turns out to be dead before Redis
// answered (Stale), fn runs again on another one, at most MaxStaleRetries
// times and while ctx lasts: a restart then costs no failed request. fn
// must be safe to repeat after such a failure (Redis did not run it).
// A READONLY reply (the server was demoted to a replica by a failover;
// ReadOnly) is likewise retried, once: a SentinelPool has dropped that
// connection, and the next one is dialed to the master Sentinel names.
// It returns fn's reply and error, or the pool's error.
func Do(ctx context.Context, pool Source, fn func(redis.Conn) (any, error)) (any, error) {
	readOnlyRetried := false
	for attempt := 0; ; attempt++ {
		conn, err := pool.GetContext(ctx)
		if err != nil {
			return nil, err
		}
		reply, err := fn(conn)
		conn.Close()
		if err != nil && ReadOnly(err) && !readOnlyRetried && ctx.Err() == nil {
			readOnlyRetried = true
			continue
		}
		if err == nil || !Stale(err) || attempt >= MaxStaleRetries || ctx.Err() != nil {
			return reply, err
		}
	}
}

// Stale reports whether err means the connection had already been closed
// by the server (EOF, connection reset, broken pipe).
func Stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
