package redisconn

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// FailoverHold bounds how long a SentinelPool refuses the old master
// after a Sentinel announced a failover attempt (+try-failover) that it
// did not see end (+switch-master, or a -failover-abort-* event): then the
// old master is used again, as the Sentinels still name it.
const FailoverHold = 10 * time.Second

// sentinelPing is how often an event subscription pings its Sentinel, so
// that a dead connection is noticed and dialed again.
const sentinelPing = 5 * time.Second

// Sentinel event channels (https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/#pubsub-messages).
const (
	evTryFailover  = "+try-failover"        // "master <name> <ip> <port>"
	evSwitchMaster = "+switch-master"       // "<name> <old ip> <old port> <new ip> <new port>"
	evAbortPattern = "-failover-abort-*"    // "master <name> <ip> <port>"
	evAbortPrefix  = "-failover-abort-"     // the events evAbortPattern matches
	evRetryDelay   = 500 * time.Millisecond // between attempts to subscribe to a Sentinel
)

// subscribe follows one Sentinel's failover events until ctx ends,
// dialing it again whenever the connection fails. Every Sentinel is
// followed, since only the one leading a failover announces it.
//
// Why: Sentinel promotes a replica (REPLICAOF NO ONE) and demotes a
// running old master only later (seconds), and until then the old master
// accepts writes that the failover discards: sessions created meanwhile
// vanish, and a revocation acknowledged by the replica that is not
// promoted comes undone. On +try-failover (sent before the Sentinels elect
// a leader and promote anything) the pool retires its connections and
// refuses to dial the old master, so those requests fail with an error
// (503) instead of being lost, until +switch-master names the new master,
// the attempt is aborted, or FailoverHold passes.
func (p *SentinelPool) subscribe(ctx context.Context, addr string, opts []redis.DialOption) {
	for ctx.Err() == nil {
		p.follow(ctx, addr, opts)
		select {
		case <-ctx.Done():
		case <-time.After(evRetryDelay):
		}
	}
}

// follow runs one subscription to the Sentinel at addr until it fails or
// ctx ends.
func (p *SentinelPool) follow(ctx context.Context, addr string, opts []redis.DialOption) {
	c, err := redis.DialContext(ctx, "tcp", addr, opts...)
	if err != nil {
		return
	}
	psc := redis.PubSubConn{Conn: c}
	defer psc.Close()
	if err := psc.Subscribe(evTryFailover, evSwitchMaster); err != nil {
		return
	}
	if err := psc.PSubscribe(evAbortPattern); err != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(sentinelPing)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if psc.Ping("") != nil {
					return
				}
			}
		}
	}()
	for {
		switch m := psc.ReceiveContext(ctx).(type) {
		case error:
			return
		case redis.Message:
			p.event(m.Channel, strings.Fields(string(m.Data)))
		}
	}
}

// event applies one Sentinel event about any master set (fields split on
// spaces); events about other sets than p's are ignored.
func (p *SentinelPool) event(channel string, f []string) {
	switch {
	case channel == evTryFailover && len(f) >= 4 && f[0] == "master" && f[1] == p.name:
		p.mu.Lock()
		p.suspect, p.suspectUntil = net.JoinHostPort(f[2], f[3]), time.Now().Add(FailoverHold)
		p.mu.Unlock()
		p.retire(p.gen.Load())
	case channel == evSwitchMaster && len(f) >= 5 && f[0] == p.name:
		p.mu.Lock()
		p.suspect = ""
		p.mu.Unlock()
		p.retire(p.gen.Load())
	case strings.HasPrefix(channel, evAbortPrefix) && len(f) >= 2 && f[0] == "master" && f[1] == p.name:
		p.mu.Lock()
		p.suspect = ""
		p.mu.Unlock()
	}
}

// suspended reports whether addr is a master whose failover is under way.
func (p *SentinelPool) suspended(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return addr == p.suspect && time.Now().Before(p.suspectUntil)
}
