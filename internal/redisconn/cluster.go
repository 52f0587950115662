package redisconn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"
)

// Cluster is a Source on a Redis Cluster, built on github.com/mna/redisc
// (a redigo cluster client: per-node pools, the slot map from CLUSTER
// SLOTS, MOVED/ASK handling in redisc.RetryConn).
//
// Every connection it lends is bound to the node that serves the slot of
// the command's first key: for EVAL/EVALSHA/FCALL that is the first key
// after numkeys (redisc alone would hash the script's SHA and pay a MOVED
// on most calls), so a script whose keys share one hash tag costs one
// round trip. A MOVED or ASK reply (a failover, a resharding) is followed
// on the same call, up to clusterMaxAttempts times; a TRYAGAIN (keys of a
// slot in migration) is retried after clusterTryAgainDelay. When a node
// cannot be reached the slot map is refreshed in the background (at most
// once per clusterRefreshEvery), so after a master dies its replica's
// promotion is found without a MOVED from anyone.
//
// A connection serves Do and DoContext only (no pipelining: Send, Flush
// and Receive return an error), like redisc.RetryConn.
type Cluster struct {
	c *redisc.Cluster

	mu          sync.Mutex
	lastRefresh time.Time
	refreshing  bool
	observer    TopologyObserver // nil: nobody is told
}

// Observe makes cl tell o (latch_redis_topology_changes_total) of every
// reload of the slot map it starts after a node failed or the cluster
// answered CLUSTERDOWN (TopologySlotsRefreshed). Call it before use.
func (cl *Cluster) Observe(o TopologyObserver) {
	cl.mu.Lock()
	cl.observer = o
	cl.mu.Unlock()
}

var _ Source = (*Cluster)(nil)

const (
	clusterMaxAttempts   = 5
	clusterTryAgainDelay = 25 * time.Millisecond
	clusterRefreshEvery  = 250 * time.Millisecond
	clusterPoolSize      = 256 // per node, like the single-Redis pool (session.NewRedisPool)
)

// NewCluster returns a Cluster on the nodes addrs ("host:port", at least
// one; the rest of the cluster is learned from CLUSTER SLOTS). password ""
// means none. Dialing, each read and each write are bounded by timeout
// (> 0). Each node gets a pool of up to 256 connections (all kept idle,
// as for a single Redis), borrowed waiting at most until the caller's
// context ends. It reads the slot map once: an error then (no node
// answers) is returned, but the Cluster is usable and retries on first
// use. Close releases the pools.
func NewCluster(addrs []string, password string, timeout time.Duration) (*Cluster, error) {
	if len(addrs) == 0 {
		return nil, errors.New("redisconn: cluster: no node address")
	}
	if timeout <= 0 {
		return nil, errors.New("redisconn: cluster: timeout must be positive")
	}
	opts := []redis.DialOption{
		redis.DialConnectTimeout(timeout),
		redis.DialReadTimeout(timeout),
		redis.DialWriteTimeout(timeout),
	}
	if password != "" {
		opts = append(opts, redis.DialPassword(password))
	}
	cl := &Cluster{}
	cl.c = &redisc.Cluster{
		StartupNodes: addrs,
		DialOptions:  opts,
		CreatePool: func(addr string, opts ...redis.DialOption) (*redis.Pool, error) {
			return &redis.Pool{
				MaxIdle:     clusterPoolSize,
				MaxActive:   clusterPoolSize,
				IdleTimeout: 4 * time.Minute,
				Wait:        true,
				Dial:        func() (redis.Conn, error) { return redis.Dial("tcp", addr, opts...) },
				TestOnBorrow: func(c redis.Conn, lastUsed time.Time) error {
					if time.Since(lastUsed) < time.Minute {
						return nil
					}
					_, err := c.Do("PING")
					return err
				},
			}, nil
		},
		PoolWaitTime: timeout,
	}
	if err := cl.c.Refresh(); err != nil {
		return cl, fmt.Errorf("redisconn: cluster: %w", err)
	}
	return cl, nil
}

// GetContext lends a connection (see Cluster). It fails only when the
// Cluster is closed or ctx has ended; reaching a node is part of the
// first command.
func (cl *Cluster) GetContext(ctx context.Context) (redis.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn := cl.c.Get()
	if err := conn.Err(); err != nil {
		conn.Close()
		return nil, err
	}
	return &clusterConn{cl: cl, conn: conn.(*redisc.Conn)}, nil
}

// Stats returns the connection pool statistics summed over the nodes
// (connections open, idle, waits), like a single *redis.Pool's.
func (cl *Cluster) Stats() redis.PoolStats {
	var sum redis.PoolStats
	for _, st := range cl.c.Stats() {
		sum.ActiveCount += st.ActiveCount
		sum.IdleCount += st.IdleCount
		sum.WaitCount += st.WaitCount
		sum.WaitDuration += st.WaitDuration
	}
	return sum
}

// NodeStats returns the connection pool statistics of each node, by
// address.
func (cl *Cluster) NodeStats() map[string]redis.PoolStats { return cl.c.Stats() }

// Masters calls fn with a connection to each master node known from the
// last slot map (for diagnostics and tests: counting keys per master).
func (cl *Cluster) Masters(fn func(addr string, conn redis.Conn) error) error {
	return cl.c.EachNode(false, fn)
}

// Refresh reads the slot map again from the known nodes now.
func (cl *Cluster) Refresh() error { return cl.c.Refresh() }

// Close closes every node's pool; connections lent are closed when
// returned.
func (cl *Cluster) Close() error { return cl.c.Close() }

// refreshSoon starts a background refresh of the slot map unless one ran
// in the last clusterRefreshEvery or is running.
func (cl *Cluster) refreshSoon() {
	cl.mu.Lock()
	if cl.refreshing || time.Since(cl.lastRefresh) < clusterRefreshEvery {
		cl.mu.Unlock()
		return
	}
	cl.refreshing = true
	cl.mu.Unlock()
	go func() {
		err := cl.c.Refresh()
		cl.mu.Lock()
		cl.refreshing, cl.lastRefresh = false, time.Now()
		o := cl.observer
		cl.mu.Unlock()
		if err == nil && o != nil {
			o.RedisTopologyChange(TopologySlotsRefreshed)
		}
	}()
}

// clusterConn is the connection Cluster lends.
type clusterConn struct {
	cl    *Cluster
	conn  *redisc.Conn
	retry redis.Conn // redisc.RetryConn over conn, once bound
}

var (
	_ redis.Conn            = (*clusterConn)(nil)
	_ redis.ConnWithContext = (*clusterConn)(nil)
	_ redis.ConnWithTimeout = (*clusterConn)(nil)
)

// firstKey returns the key a command is routed by: the first key of a
// script call, else the first argument.
func firstKey(cmd string, args []any) (string, bool) {
	switch strings.ToUpper(cmd) {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
		if len(args) < 3 {
			return "", false
		}
		if n, err := strconv.Atoi(fmt.Sprint(args[1])); err != nil || n < 1 {
			return "", false // redigo's Script passes numkeys as an int, redis.Int wants a reply type
		}
		return fmt.Sprint(args[2]), true
	case "PING", "INFO", "CLUSTER", "SCRIPT", "DBSIZE", "TIME", "WAIT", "ROLE":
		return "", false
	}
	if len(args) == 0 {
		return "", false
	}
	return fmt.Sprint(args[0]), true
}

func (c *clusterConn) Do(cmd string, args ...any) (any, error) {
	return c.DoContext(context.Background(), cmd, args...)
}

// DoContext runs cmd on the node serving its first key, following
// redirections. ctx is checked before the command is sent; the command
// itself is bounded by the cluster's read and write timeouts.
func (c *clusterConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.bind(cmd, args); err != nil {
		return nil, err
	}
	reply, err := c.retry.Do(cmd, args...)
	c.failed(err)
	return reply, err
}

// DoWithTimeout runs cmd on the node the connection is bound to (binding
// it by cmd's first key if it is not yet), with timeout as the bound on
// reading the reply instead of the cluster's read timeout, and without
// following redirections. It is for commands that wait on the node
// itself, such as WAIT after a revocation on the same connection (a WAIT
// sent elsewhere would wait for the wrong master's replicas).
func (c *clusterConn) DoWithTimeout(timeout time.Duration, cmd string, args ...any) (any, error) {
	if err := c.bind(cmd, args); err != nil {
		return nil, err
	}
	reply, err := c.conn.DoWithTimeout(timeout, cmd, args...)
	c.failed(err)
	return reply, err
}

// ReceiveWithTimeout fails: cluster connections do not pipeline.
func (c *clusterConn) ReceiveWithTimeout(time.Duration) (any, error) {
	return nil, errors.New("redisconn: cluster connections do not pipeline")
}

// bind binds the connection, on its first command, to the node serving
// cmd's first key (any node for a command without one) and wraps it in
// redisc.RetryConn to follow MOVED, ASK and TRYAGAIN.
func (c *clusterConn) bind(cmd string, args []any) error {
	if c.retry == nil {
		if key, ok := firstKey(cmd, args); ok {
			if err := c.conn.Bind(key); err != nil {
				c.cl.refreshSoon()
				return err
			}
		} else if err := c.conn.Bind(); err != nil {
			c.cl.refreshSoon()
			return err
		}
		rc, err := redisc.RetryConn(c.conn, clusterMaxAttempts, clusterTryAgainDelay)
		if err != nil {
			return err
		}
		c.retry = rc
	}
	return nil
}

// failed asks for a fresh slot map when err means a node is down or
// unreachable (its slots may have a new master).
func (c *clusterConn) failed(err error) {
	if err == nil {
		return
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) || strings.HasPrefix(string(rerr), "CLUSTERDOWN") {
		c.cl.refreshSoon()
	}
}

func (c *clusterConn) Err() error { return c.conn.Err() }

func (c *clusterConn) Close() error { return c.conn.Close() }

func (c *clusterConn) Send(string, ...any) error {
	return errors.New("redisconn: cluster connections do not pipeline")
}

func (c *clusterConn) Flush() error {
	return errors.New("redisconn: cluster connections do not pipeline")
}

func (c *clusterConn) Receive() (any, error) {
	return nil, errors.New("redisconn: cluster connections do not pipeline")
}

func (c *clusterConn) ReceiveContext(context.Context) (any, error) {
	return nil, errors.New("redisconn: cluster connections do not pipeline")
}
