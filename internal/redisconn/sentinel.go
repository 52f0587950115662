package redisconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/FZambia/sentinel/v2"
	"github.com/gomodule/redigo/redis"
)

// SentinelOptions configure NewSentinelPool.
type SentinelOptions struct {
	// Sentinels are the Sentinels' host:port addresses, tried in order
	// (the library moves the one that answered to the front, as the
	// Sentinel client guidelines ask).
	Sentinels []string
	// MasterName is the name the Sentinels monitor the master under.
	MasterName string
	// SentinelPassword authenticates to the Sentinels ("" = none).
	SentinelPassword string
	// DialOptions dial the master (AUTH, SELECT, TLS: redis.DialPassword,
	// redis.DialUsername, redis.DialDatabase, redis.DialUseTLS, …), after
	// the timeouts.
	DialOptions []redis.DialOption
	// Observer, if not nil, is told of each change of master the pool
	// follows (RedisTopologyChange("master_changed"), from any goroutine).
	Observer interface{ RedisTopologyChange(kind string) }
	// Timeout bounds connecting, each read and each write, to the
	// Sentinels and to the master (must be > 0: the Sentinel client
	// guidelines require a bounded connect).
	Timeout time.Duration
	// PoolSize is the most connections open at once, all kept idle.
	PoolSize int
	// CheckInterval is how often a background check asks the Sentinels
	// for the master (0 = DefaultSentinelCheck). When they name another
	// one than the pool's connections reach, those connections are
	// retired: an old master that has not been demoted yet still accepts
	// writes, which the failover would then lose.
	CheckInterval time.Duration
}

// DefaultSentinelCheck is SentinelOptions.CheckInterval's default.
const DefaultSentinelCheck = 250 * time.Millisecond

// SentinelPool is a *redis.Pool whose connections go to the master that
// Redis Sentinel names at the time of dialing (github.com/FZambia/sentinel/v2
// asks the Sentinels, "SENTINEL get-master-addr-by-name"), so that after a
// failover new connections reach the new master without a restart.
//
// A connection to a demoted master is never reused for writes:
//   - a dial checks ROLE and refuses a server that is not a master (a
//     Sentinel that has not seen the failover yet names the old one);
//   - a READONLY error reply (the server is a replica now) marks the
//     connection broken, so the pool closes it instead of keeping it, and
//     Do runs the operation once more on a fresh connection (ReadOnly);
//   - that reply, or the connection being closed under it (Sentinel kills
//     the demoted master's clients), also retires every connection dialed
//     before it: they are closed when next borrowed, without a round trip;
//   - a background check asks the Sentinels for the master every
//     CheckInterval and retires the connections when it changed: Sentinel
//     demotes a still-running old master only seconds after promoting the
//     new one, and writes it accepts meanwhile would be lost;
//   - the pool follows every Sentinel's failover events and stops using
//     a master as soon as a failover of it is attempted (sentinel_events.go),
//     so that writes meanwhile fail (503) instead of being lost.
//
// Idle connections are checked on borrow only as the plain pool does
// (PING after a minute idle), so a signed-in request costs the same round
// trips as with a single Redis.
type SentinelPool struct {
	*redis.Pool
	sentinel *sentinel.Sentinel
	// gen is the generation of connections in use: a connection dialed in
	// an older generation is retired on borrow.
	gen atomic.Uint64
	// switches counts dials that reached a different master than the one
	// before (a topology change seen by this process).
	switches atomic.Uint64
	name     string // the master set's name
	observer interface{ RedisTopologyChange(kind string) }
	mu       sync.Mutex
	master   string // address of the master the last dial reached
	// suspect is a master a Sentinel is failing over (sentinel_events.go),
	// not dialed until suspectUntil.
	suspect      string
	suspectUntil time.Time
	stop         chan struct{}  // closed by Close
	cancel       func()         // ends the event subscriptions
	running      sync.WaitGroup // watch and the subscriptions
}

var _ Source = (*SentinelPool)(nil)

// errRetired is what TestOnBorrow returns for a connection of an older
// generation; the pool then closes it and dials another.
var errRetired = errors.New("redisconn: connection dialed before a failover")

// NewSentinelPool returns a pool on the master that o.Sentinels name for
// o.MasterName. It dials no master yet, and starts following the
// Sentinels in the background (the master check and the event
// subscriptions, which retry on their own while a Sentinel is down).
// Errors are only for bad options (no Sentinels, no master name,
// Timeout ≤ 0). Close stops the background work and closes the pool and
// the connections to the Sentinels.
func NewSentinelPool(o SentinelOptions) (*SentinelPool, error) {
	if len(o.Sentinels) == 0 || o.MasterName == "" || o.Timeout <= 0 {
		return nil, errors.New("redisconn: sentinel pool needs sentinels, a master name and a timeout")
	}
	timeouts := []redis.DialOption{
		redis.DialConnectTimeout(o.Timeout), redis.DialReadTimeout(o.Timeout), redis.DialWriteTimeout(o.Timeout),
	}
	dataOpts := append(append([]redis.DialOption{}, timeouts...), o.DialOptions...)
	sentinelOpts := timeouts
	if o.SentinelPassword != "" {
		sentinelOpts = append(append([]redis.DialOption{}, timeouts...), redis.DialPassword(o.SentinelPassword))
	}
	p := &SentinelPool{name: o.MasterName, observer: o.Observer, stop: make(chan struct{}), sentinel: &sentinel.Sentinel{
		Addrs:      append([]string{}, o.Sentinels...),
		MasterName: o.MasterName,
		Dial: func(addr string) (redis.Conn, error) {
			return redis.Dial("tcp", addr, sentinelOpts...)
		},
	}}
	p.Pool = &redis.Pool{
		MaxIdle:     o.PoolSize,
		MaxActive:   o.PoolSize,
		IdleTimeout: 4 * time.Minute,
		Wait:        true,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return p.dial(ctx, dataOpts)
		},
		TestOnBorrowContext: func(ctx context.Context, c redis.Conn, lastUsed time.Time) error {
			if rc, ok := c.(*roleConn); ok && rc.gen != p.gen.Load() {
				return errRetired
			}
			if time.Since(lastUsed) < time.Minute {
				return nil
			}
			_, err := redis.DoContext(c, ctx, "PING")
			return err
		},
	}
	interval := o.CheckInterval
	if interval <= 0 {
		interval = DefaultSentinelCheck
	}
	// Event subscriptions block in reads: no read timeout (a ping every
	// sentinelPing finds a dead connection).
	subOpts := []redis.DialOption{redis.DialConnectTimeout(o.Timeout), redis.DialWriteTimeout(o.Timeout)}
	if o.SentinelPassword != "" {
		subOpts = append(subOpts, redis.DialPassword(o.SentinelPassword))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.running.Add(1 + len(o.Sentinels))
	go func() { defer p.running.Done(); p.watch(interval) }()
	for _, addr := range o.Sentinels {
		go func() { defer p.running.Done(); p.subscribe(ctx, addr, subOpts) }()
	}
	return p, nil
}

// watch retires the pool's connections whenever the Sentinels name a
// master other than the one they reach, until Close.
func (p *SentinelPool) watch(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		gen := p.gen.Load()
		addr, err := p.sentinel.MasterAddr()
		if err != nil {
			continue // dials fail the same way; nothing to retire on
		}
		p.mu.Lock()
		changed := p.master != "" && addr != p.master
		p.mu.Unlock()
		if changed {
			p.retire(gen)
		}
	}
}

// dial asks the Sentinels for the master, connects to it with opts and
// checks that it is a master (ROLE).
func (p *SentinelPool) dial(ctx context.Context, opts []redis.DialOption) (redis.Conn, error) {
	addr, err := p.sentinel.MasterAddr()
	if err != nil {
		return nil, fmt.Errorf("redisconn: ask sentinels for the master: %w", err)
	}
	if p.suspended(addr) {
		return nil, fmt.Errorf("redisconn: master %s: a Sentinel is failing it over", addr)
	}
	c, err := redis.DialContext(ctx, "tcp", addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("redisconn: dial master %s: %w", addr, err)
	}
	if ok, err := sentinel.TestRole(c, "master"); err != nil || !ok {
		c.Close()
		if err == nil {
			err = errors.New("it is not a master (failover in progress)")
		}
		return nil, fmt.Errorf("redisconn: master %s: %w", addr, err)
	}
	p.mu.Lock()
	if p.master != "" && p.master != addr {
		// Connections to the master before this one are retired, this one
		// starts the new generation.
		p.switches.Add(1)
		p.retire(p.gen.Load())
		if p.observer != nil {
			p.observer.RedisTopologyChange("master_changed") // redisconn.TopologyMasterChanged on main
		}
	}
	p.master = addr
	p.mu.Unlock()
	return &roleConn{Conn: c, pool: p, gen: p.gen.Load()}, nil
}

// retire makes every connection of generation gen (and older) be closed
// when next borrowed. Only the first report of a generation moves it on.
func (p *SentinelPool) retire(gen uint64) { p.gen.CompareAndSwap(gen, gen+1) }

// Master returns the address of the master the last dial reached, ""
// before the first.
func (p *SentinelPool) Master() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.master
}

// MasterSwitches returns how many times a dial reached another master
// than the one before: the failovers this process has followed.
func (p *SentinelPool) MasterSwitches() uint64 { return p.switches.Load() }

// Close closes the pool's connections and those to the Sentinels.
func (p *SentinelPool) Close() error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.cancel()
	p.running.Wait()
	err := p.Pool.Close()
	p.sentinel.Close()
	return err
}

// ReadOnly reports whether err is Redis's READONLY error reply: the
// server is a replica (for example a master demoted by a failover) and
// refused a write without running it.
func ReadOnly(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(string(re), "READONLY")
}

// roleConn is a connection of a SentinelPool. A READONLY reply or a dead
// connection makes Err report it broken (so the pool closes it rather
// than keeping it) and retires its generation.
type roleConn struct {
	redis.Conn
	pool   *SentinelPool
	gen    uint64
	broken atomic.Bool
}

var (
	_ redis.ConnWithContext = (*roleConn)(nil)
	_ redis.ConnWithTimeout = (*roleConn)(nil)
)

var errDemoted = errors.New("redisconn: the server answered READONLY (no longer the master)")

func (c *roleConn) check(err error) error {
	if err != nil && (ReadOnly(err) || Stale(err)) && !c.broken.Swap(true) {
		c.pool.retire(c.gen)
	}
	return err
}

// Err reports the connection broken after a READONLY reply.
func (c *roleConn) Err() error {
	if err := c.Conn.Err(); err != nil {
		return err
	}
	if c.broken.Load() {
		return errDemoted
	}
	return nil
}

func (c *roleConn) Do(cmd string, args ...any) (any, error) {
	r, err := c.Conn.Do(cmd, args...)
	return r, c.check(err)
}

func (c *roleConn) Receive() (any, error) {
	r, err := c.Conn.Receive()
	return r, c.check(err)
}

func (c *roleConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	r, err := redis.DoContext(c.Conn, ctx, cmd, args...)
	return r, c.check(err)
}

func (c *roleConn) ReceiveContext(ctx context.Context) (any, error) {
	r, err := redis.ReceiveContext(c.Conn, ctx)
	return r, c.check(err)
}

func (c *roleConn) DoWithTimeout(timeout time.Duration, cmd string, args ...any) (any, error) {
	r, err := redis.DoWithTimeout(c.Conn, timeout, cmd, args...)
	return r, c.check(err)
}

func (c *roleConn) ReceiveWithTimeout(timeout time.Duration) (any, error) {
	r, err := redis.ReceiveWithTimeout(c.Conn, timeout)
	return r, c.check(err)
}
