package metrics

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redisconn"
)

// CountRedisErrors returns a redisconn.Source that lends src's connections
// and counts, in rec's latch_redis_command_errors_total, every connection
// that could not be had (kind "connection": dial failure, pool closed) and
// every command that failed on one: kind "reply" for an error reply from
// Redis (READONLY, MOVED, WRONGTYPE, …), kind "connection" for anything
// else (timeout, reset, closed connection). NOSCRIPT is not counted: it is
// how redigo's Script learns to send the script body once. Pass the result
// wherever src went (the session store, the throttle, the health check).
func CountRedisErrors(src redisconn.Source, rec *Recorder) redisconn.Source {
	return &countingSource{src: src, rec: rec}
}

type countingSource struct {
	src redisconn.Source
	rec *Recorder
}

func (s *countingSource) GetContext(ctx context.Context) (redis.Conn, error) {
	c, err := s.src.GetContext(ctx)
	if err != nil {
		s.rec.RedisCommandError(RedisErrorConnection)
		return nil, err
	}
	return &countingConn{Conn: c, rec: s.rec}, nil
}

// countingConn counts the errors of one borrowed connection. It supports
// redis.DoContext and ReceiveContext (redis.ConnWithContext) and
// redis.DoWithTimeout and ReceiveWithTimeout (redis.ConnWithTimeout: WAIT
// after a revocation uses it) whether or not the connection it wraps does:
// redigo's helpers then answer the same as for the bare connection.
type countingConn struct {
	redis.Conn
	rec *Recorder
}

var (
	_ redis.ConnWithContext = (*countingConn)(nil)
	_ redis.ConnWithTimeout = (*countingConn)(nil)
)

func (c *countingConn) count(err error) {
	if err == nil {
		return
	}
	var re redis.Error
	switch {
	case errors.As(err, &re):
		if !strings.HasPrefix(string(re), "NOSCRIPT") {
			c.rec.RedisCommandError(RedisErrorReply)
		}
	default:
		c.rec.RedisCommandError(RedisErrorConnection)
	}
}

func (c *countingConn) Do(cmd string, args ...any) (any, error) {
	reply, err := c.Conn.Do(cmd, args...)
	c.count(err)
	return reply, err
}

func (c *countingConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	reply, err := redis.DoContext(c.Conn, ctx, cmd, args...)
	c.count(err)
	return reply, err
}

func (c *countingConn) Receive() (any, error) {
	reply, err := c.Conn.Receive()
	c.count(err)
	return reply, err
}

func (c *countingConn) ReceiveContext(ctx context.Context) (any, error) {
	reply, err := redis.ReceiveContext(c.Conn, ctx)
	c.count(err)
	return reply, err
}

func (c *countingConn) DoWithTimeout(timeout time.Duration, cmd string, args ...any) (any, error) {
	reply, err := redis.DoWithTimeout(c.Conn, timeout, cmd, args...)
	c.count(err)
	return reply, err
}

func (c *countingConn) ReceiveWithTimeout(timeout time.Duration) (any, error) {
	reply, err := redis.ReceiveWithTimeout(c.Conn, timeout)
	c.count(err)
	return reply, err
}
