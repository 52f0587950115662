package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch/latch/internal/metrics"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redistest"
	"github.com/latch/latch/internal/session/sessiontest"
)

// TestCountRedisErrors: through a real Redis, an error reply counts as
// "reply", NOSCRIPT (redigo's Script loading its body) counts nothing, a
// good command counts nothing, and a Redis that cannot be reached counts
// "connection" once per attempt.
func TestCountRedisErrors(t *testing.T) {
	rec := metrics.NewRecorder()
	reg := prometheus.NewRegistry()
	reg.MustRegister(rec)
	count := func(kind string) float64 {
		t.Helper()
		return counterOf(t, reg, "latch_redis_command_errors_total", "kind", kind)
	}
	src := metrics.CountRedisErrors(sessiontest.RedisPool(t), rec)
	ctx := t.Context()
	do := func(fn func(redis.Conn) (any, error)) error {
		_, err := redisconn.Do(ctx, src, fn)
		return err
	}
	if err := do(func(c redis.Conn) (any, error) { return redis.DoContext(c, ctx, "PING") }); err != nil {
		t.Fatal(err)
	}
	if err := do(func(c redis.Conn) (any, error) { return redis.DoContext(c, ctx, "NOSUCHCOMMAND") }); err == nil {
		t.Fatal("NOSUCHCOMMAND succeeded")
	}
	script := redis.NewScript(0, "return '"+time.Now().String()+"'") // a body Redis has not cached
	if err := do(func(c redis.Conn) (any, error) { return script.DoContext(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	// redis.DoWithTimeout (WAIT after a revocation) works through the
	// wrapper and is counted: it failed with "connection does not support
	// ConnWithTimeout" before the wrapper implemented it.
	if _, err := redisconn.Do(ctx, src, func(c redis.Conn) (any, error) {
		return redis.DoWithTimeout(c, time.Second, "PING")
	}); err != nil {
		t.Fatalf("DoWithTimeout through the counting wrapper: %v", err)
	}
	if _, err := redisconn.Do(ctx, src, func(c redis.Conn) (any, error) {
		return redis.DoWithTimeout(c, time.Second, "NOSUCHCOMMAND")
	}); err == nil {
		t.Fatal("NOSUCHCOMMAND with a timeout succeeded")
	}
	if got := count(metrics.RedisErrorReply); got != 2 {
		t.Errorf("reply errors = %v after two unknown commands and one script load, want 2", got)
	}
	if got := count(metrics.RedisErrorConnection); got != 0 {
		t.Errorf("connection errors = %v with Redis up, want 0", got)
	}

	gone := redistest.StartServer(t)
	addr := gone.Addr()
	gone.Kill()
	pool := &redis.Pool{DialContext: func(ctx context.Context) (redis.Conn, error) {
		return redis.DialContext(ctx, "tcp", addr, redis.DialConnectTimeout(time.Second))
	}}
	defer pool.Close()
	down := metrics.CountRedisErrors(pool, rec)
	if _, err := redisconn.Do(ctx, down, func(c redis.Conn) (any, error) { return redis.DoContext(c, ctx, "PING") }); err == nil {
		t.Fatal("PING to a killed Redis succeeded")
	}
	if got := count(metrics.RedisErrorConnection); got != 1 {
		t.Errorf("connection errors = %v after one refused dial, want 1", got)
	}
}

// TestRecorderTopologyAndSessions: the counters that the session code and
// the Sentinel/cluster code call move by what they are given.
func TestRecorderTopologyAndSessions(t *testing.T) {
	rec := metrics.NewRecorder()
	reg := prometheus.NewRegistry()
	reg.MustRegister(rec)
	rec.RedisTopologyChange(metrics.TopologyMasterChanged)
	rec.RedisTopologyChange(metrics.TopologyMasterChanged)
	rec.SessionsRevoked("admin", 3)
	rec.SessionsRevoked("admin", 0)
	rec.Request("/sessions/{handle}/revoke", "BREW", 303, time.Millisecond)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"latch_redis_topology_changes_total", []string{"kind", metrics.TopologyMasterChanged}, 2},
		{"latch_sessions_revoked_total", []string{"cause", "admin"}, 3},
		{"latch_http_requests_total", []string{"route", "/sessions/{handle}/revoke", "method", "other", "status", "303"}, 1},
	} {
		if got := counterOf(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%q = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// counterOf returns the value of the counter sample of name in reg whose
// labels include labels (0 when there is none).
func counterOf(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			v = m.GetCounter().GetValue()
		}
	}
	return v
}
