package redisconn

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redistest"
)

// topologyCount counts master changes (a TopologyObserver).
type topologyCount struct{ n atomic.Int64 }

func (c *topologyCount) RedisTopologyChange(kind string) {
	if kind == "master_changed" {
		c.n.Add(1)
	}
}

// sourceFunc is a Source made of a function (a unit test's fake pool).
type sourceFunc func(ctx context.Context) (redis.Conn, error)

func (f sourceFunc) GetContext(ctx context.Context) (redis.Conn, error) { return f(ctx) }

func dial(t *testing.T, p *redistest.Process) redis.Conn {
	t.Helper()
	c, err := redis.Dial("tcp", p.Addr(), redis.DialReadTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func startReplicated(t *testing.T, replicas int) (*redistest.Process, []*redistest.Process) {
	t.Helper()
	m := redistest.StartServer(t, "--repl-diskless-sync-delay", "0")
	var rs []*redistest.Process
	for range replicas {
		rs = append(rs, redistest.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(m.Port)))
	}
	deadline := time.Now().Add(redistest.RigTimeout)
	for {
		info, _ := redis.String(m.Do("INFO", "replication"))
		if strings.Count(info, "state=online") == replicas {
			return m, rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas not online within %v:\n%s", redistest.RigTimeout, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWaitReplicas(t *testing.T) {
	t.Run("no replicas: no WAIT", func(t *testing.T) {
		m := redistest.StartServer(t)
		c := dial(t, m)
		if _, err := c.Do("SET", "k", "v"); err != nil {
			t.Fatal(err)
		}
		if err := WaitReplicas(t.Context(), c, 200*time.Millisecond, false); err != nil {
			t.Fatalf("WaitReplicas without replicas: %v", err)
		}
		if n := m.Calls("wait"); n != 0 {
			t.Errorf("%d WAIT commands sent to a Redis without replicas, want 0", n)
		}
	})
	t.Run("replica required, none connected: ErrNoReplica", func(t *testing.T) {
		m := redistest.StartServer(t)
		c := dial(t, m)
		if _, err := c.Do("SET", "k", "v"); err != nil {
			t.Fatal(err)
		}
		err := WaitReplicas(t.Context(), c, 200*time.Millisecond, true)
		if !errors.Is(err, ErrNoReplica) || !errors.Is(err, ErrNotReplicated) {
			t.Fatalf("WaitReplicas requiring a replica, none connected = %v, want ErrNoReplica (an ErrNotReplicated)", err)
		}
		if n := m.Calls("wait"); n != 0 {
			t.Errorf("%d WAIT commands sent to a master without replicas, want 0", n)
		}
	})
	t.Run("replica acknowledges", func(t *testing.T) {
		m, rs := startReplicated(t, 2)
		c := dial(t, m)
		if _, err := c.Do("SET", "k", "v"); err != nil {
			t.Fatal(err)
		}
		if err := WaitReplicas(t.Context(), c, 5*time.Second, true); err != nil {
			t.Fatalf("WaitReplicas with 2 replicas: %v", err)
		}
		if n := m.Calls("wait"); n != 1 {
			t.Errorf("%d WAIT commands, want 1", n)
		}
		// WAIT 1 means at least one of the two has the write, not which.
		has := 0
		for _, r := range rs {
			if v, err := redis.String(r.Do("GET", "k")); err == nil && v == "v" {
				has++
			}
		}
		if has < 1 {
			t.Errorf("no replica has the write after WaitReplicas returned nil")
		}
	})
	t.Run("frozen replicas: ErrNotReplicated", func(t *testing.T) {
		m, rs := startReplicated(t, 2)
		for _, r := range rs {
			r.Pause()
			defer r.Resume()
		}
		c := dial(t, m)
		if _, err := c.Do("SET", "k", "v"); err != nil {
			t.Fatal(err)
		}
		err := WaitReplicas(t.Context(), c, 100*time.Millisecond, true)
		if !errors.Is(err, ErrNotReplicated) {
			t.Fatalf("WaitReplicas with frozen replicas = %v, want ErrNotReplicated", err)
		}
		if !strings.Contains(err.Error(), "2 replicas connected") {
			t.Errorf("error %q does not say how many replicas are connected", err)
		}
	})
}

// TestReadOnlyDropsConnectionAndRetries: a connection of a SentinelPool
// that gets READONLY (its server is a replica now) reports itself broken,
// so the pool closes it instead of keeping it, and retires its
// generation; Do runs the operation again, once, on another connection.
func TestReadOnlyDropsConnectionAndRetries(t *testing.T) {
	m, rs := startReplicated(t, 1)
	p, err := NewSentinelPool(SentinelOptions{Sentinels: []string{"127.0.0.1:1"}, MasterName: "x", Timeout: time.Second, PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	demoted := &roleConn{Conn: dial(t, rs[0]), pool: p, gen: p.gen.Load()}
	fresh := &roleConn{Conn: dial(t, m), pool: p, gen: p.gen.Load() + 1}
	borrows := 0
	src := sourceFunc(func(context.Context) (redis.Conn, error) {
		borrows++
		if borrows == 1 {
			return demoted, nil
		}
		return fresh, nil
	})
	_, err = Do(t.Context(), src, func(c redis.Conn) (any, error) {
		return redis.DoContext(c, t.Context(), "SET", "k", "v")
	})
	if err != nil {
		t.Fatalf("Do after READONLY: %v", err)
	}
	if borrows != 2 {
		t.Errorf("%d borrows, want 2 (the READONLY one, then one retry)", borrows)
	}
	if demoted.Err() == nil {
		t.Error("the connection that got READONLY does not report itself broken: the pool would keep it")
	}
	if v, err := redis.String(m.Do("GET", "k")); err != nil || v != "v" {
		t.Errorf("master after the retry: GET k = %q, %v; want v", v, err)
	}
	if g := p.gen.Load(); g != demoted.gen+1 {
		t.Errorf("generation %d after READONLY, want %d (older connections retired)", g, demoted.gen+1)
	}
	if !ReadOnly(redis.Error("READONLY You can't write against a read only replica.")) || ReadOnly(errors.New("READONLY")) {
		t.Error("ReadOnly does not tell Redis's READONLY reply")
	}

	// Twice READONLY: one retry only, then the error.
	borrows = 0
	src = sourceFunc(func(context.Context) (redis.Conn, error) {
		borrows++
		return &roleConn{Conn: dial(t, rs[0]), pool: p, gen: p.gen.Load()}, nil
	})
	_, err = Do(t.Context(), src, func(c redis.Conn) (any, error) {
		return redis.DoContext(c, t.Context(), "SET", "k", "v")
	})
	if !ReadOnly(err) || borrows != 2 {
		t.Errorf("Do on replicas only: err %v after %d borrows, want READONLY after 2", err, borrows)
	}
}

// TestSentinelPoolFollowsFailover: a SentinelPool writes to the master
// the Sentinels name, in the database its URL names; after SENTINEL
// FAILOVER its writes reach the new master without a restart.
func TestSentinelPoolFollowsFailover(t *testing.T) {
	rig := redistest.StartSentinelRig(t, "latch")
	var observed topologyCount
	p, err := NewSentinelPool(SentinelOptions{Sentinels: rig.SentinelAddrs(), MasterName: "latch",
		DialOptions: []redis.DialOption{redis.DialDatabase(3)}, Timeout: time.Second, PoolSize: 8, Observer: &observed})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	set := func(v string) error {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err := Do(ctx, p, func(c redis.Conn) (any, error) { return redis.DoContext(c, ctx, "SET", "k", v) })
		return err
	}
	if err := set("before"); err != nil {
		t.Fatal(err)
	}
	old := rig.Master()
	if p.Master() != old.Addr() {
		t.Fatalf("pool master %s, rig master %s", p.Master(), old.Addr())
	}
	rig.Failover()
	deadline := time.Now().Add(redistest.RigTimeout)
	for !rig.Promoted(old.Addr()) {
		if time.Now().After(deadline) {
			t.Fatal("no new master")
		}
		time.Sleep(50 * time.Millisecond)
	}
	promoted := rig.Master()
	failures := 0
	for {
		err := set("after")
		if err == nil && p.Master() == promoted.Addr() {
			break
		}
		failures++
		t.Logf("after the promotion: err %v, pool master %s", err, p.Master())
		if time.Now().After(deadline) {
			t.Fatalf("writes after the failover still fail (%d failures): %v", failures, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("writes failed %d times after the promotion", failures)
	db3, err := redis.Dial("tcp", promoted.Addr(), redis.DialDatabase(3))
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	if v, err := redis.String(db3.Do("GET", "k")); err != nil || v != "after" {
		t.Errorf("new master, database 3: GET k = %q, %v; want after", v, err)
	}
	if p.MasterSwitches() < 1 || observed.n.Load() != int64(p.MasterSwitches()) {
		t.Errorf("MasterSwitches = %d, observer told %d times; want ≥ 1 and the same", p.MasterSwitches(), observed.n.Load())
	}
	for range 20 {
		if err := set("again"); err != nil {
			t.Fatalf("write after recovery: %v", err)
		}
	}
}

// TestSentinelPoolLosesNoWriteInAFailover: during SENTINEL FAILOVER the
// old master keeps accepting writes until Sentinel demotes it, seconds
// after promoting a replica, and those writes are then discarded. The
// pool stops using the old master when a Sentinel announces the attempt
// (+try-failover, before anything is promoted), so every write it
// acknowledged during the failover is on the new master afterwards; the
// others failed with an error.
func TestSentinelPoolLosesNoWriteInAFailover(t *testing.T) {
	rig := redistest.StartSentinelRig(t, "latch")
	p, err := NewSentinelPool(SentinelOptions{Sentinels: rig.SentinelAddrs(), MasterName: "latch",
		Timeout: time.Second, PoolSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	set := func(i int) error {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err := Do(ctx, p, func(c redis.Conn) (any, error) { return redis.DoContext(c, ctx, "SET", "k"+strconv.Itoa(i), i) })
		return err
	}
	if err := set(0); err != nil {
		t.Fatal(err)
	}
	old := rig.Master().Addr()
	rig.Failover()
	var acked []int
	failed, okInARow := 0, 0
	deadline := time.Now().Add(redistest.RigTimeout)
	for i := 1; okInARow < 50 || !rig.Promoted(old); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no stable new master within %v (%d writes, %d failed)", redistest.RigTimeout, i, failed)
		}
		if err := set(i); err != nil {
			failed++
			okInARow = 0
			time.Sleep(time.Millisecond) // pacing, not synchronisation: failures are instant
			continue
		}
		okInARow++
		acked = append(acked, i)
	}
	promoted := rig.Master()
	lost := 0
	for _, i := range acked {
		if n, err := redis.Int(promoted.Do("EXISTS", "k"+strconv.Itoa(i))); err != nil || n != 1 {
			lost++
		}
	}
	t.Logf("SENTINEL FAILOVER: %d writes acknowledged, %d failed, %d acknowledged writes lost", len(acked), failed, lost)
	if lost > 0 {
		t.Errorf("%d of %d writes the pool acknowledged during the failover are not on the new master", lost, len(acked))
	}
}

// TestSentinelEvents: +try-failover for the pool's master set makes the
// pool refuse that master and retire its connections; +switch-master and
// an abort end the refusal; events about other sets change nothing.
func TestSentinelEvents(t *testing.T) {
	p, err := NewSentinelPool(SentinelOptions{Sentinels: []string{"127.0.0.1:1"}, MasterName: "latch", Timeout: time.Second, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.event(evTryFailover, strings.Fields("master other 127.0.0.1 7000"))
	if p.suspended("127.0.0.1:7000") || p.gen.Load() != 0 {
		t.Fatal("an event about another master set suspended a master")
	}
	p.event(evTryFailover, strings.Fields("master latch 127.0.0.1 7000"))
	if !p.suspended("127.0.0.1:7000") || p.gen.Load() != 1 {
		t.Fatalf("after +try-failover: suspended %v, generation %d; want true, 1", p.suspended("127.0.0.1:7000"), p.gen.Load())
	}
	if p.suspended("127.0.0.1:7001") {
		t.Error("another address suspended")
	}
	p.event(evSwitchMaster, strings.Fields("latch 127.0.0.1 7000 127.0.0.1 7001"))
	if p.suspended("127.0.0.1:7000") || p.gen.Load() != 2 {
		t.Errorf("after +switch-master: suspended %v, generation %d; want false, 2", p.suspended("127.0.0.1:7000"), p.gen.Load())
	}
	p.event(evTryFailover, strings.Fields("master latch 127.0.0.1 7001"))
	p.event("-failover-abort-no-good-slave", strings.Fields("master latch 127.0.0.1 7001"))
	if p.suspended("127.0.0.1:7001") {
		t.Error("still suspended after -failover-abort-no-good-slave")
	}
}
