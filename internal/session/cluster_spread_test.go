package session

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redisconn/clustertest"
	"github.com/latch/latch/internal/session/sessiontest"
)

// fillCluster creates n sessions of n different users (ids 1..n, as SQL
// sequences hand them out) in st, 8 at a time, with tokens and handles
// drawn into each user's bucket as the Manager draws them.
func fillCluster(t testing.TB, st *RedisStore, n int) {
	t.Helper()
	now := time.Now()
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			uid := int64(i + 1)
			r := newRecord(i, uid, "", now)
			return put(t, st, tok(fmt.Sprintf("tok-%d", i), uid), r, true)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// sessionsPerMaster counts the session keys of prefix on each master,
// in descending order.
func sessionsPerMaster(t testing.TB, src *redisconn.Cluster, prefix string) []int {
	t.Helper()
	var counts []int
	for _, n := range clustertest.KeysByMaster(t, src, prefix+"{*}:s:*") {
		counts = append(counts, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	return counts
}

// checkSpread fails t unless counts has 3 masters, each within ±10% of a
// third of total.
func checkSpread(t testing.TB, counts []int, total int) {
	t.Helper()
	if len(counts) != 3 {
		t.Fatalf("sessions on %d masters (%v), want 3", len(counts), counts)
	}
	sum := 0
	for _, c := range counts {
		sum += c
		if third := float64(total) / 3; float64(c) < 0.9*third || float64(c) > 1.1*third {
			t.Errorf("a master holds %d sessions of %d, outside ±10%% of a third (%.0f): %v", c, total, third, counts)
		}
	}
	if sum != total {
		t.Errorf("masters hold %d sessions, want %d", sum, total)
	}
}

// TestClusterSessionsSpreadOverMasters: the sessions of consecutive users
// spread evenly over a 3-master cluster (each master within ±10% of a
// third), counted key by key on each master. BenchmarkClusterSpread100k
// does the same with 100,000 sessions.
func TestClusterSessionsSpreadOverMasters(t *testing.T) {
	src, _ := clustertest.Start(t)
	prefix := sessiontest.Prefix(t)
	st := NewRedisStore(src, prefix, 5*time.Second)
	const n = 6000
	fillCluster(t, st, n)
	checkSpread(t, sessionsPerMaster(t, src, prefix), n)
}

// BenchmarkClusterSpread100k creates 100,000 sessions of 100,000 users on
// a 3-master cluster and reports each master's share (in percent of all,
// largest first); it fails outside ±10% of a third. Run it once:
// go test -run '^$' -bench ClusterSpread100k -benchtime 1x ./internal/session/
func BenchmarkClusterSpread100k(b *testing.B) {
	src, _ := clustertest.Start(b)
	const n = 100_000
	for b.Loop() {
		prefix := sessiontest.Prefix(b)
		st := NewRedisStore(src, prefix, 5*time.Second)
		start := time.Now()
		fillCluster(b, st, n)
		b.Logf("filled %d sessions in %v", n, time.Since(start))
		counts := sessionsPerMaster(b, src, prefix)
		checkSpread(b, counts, n)
		for i, c := range counts {
			b.ReportMetric(100*float64(c)/n, fmt.Sprintf("master%d-%%", i+1))
		}
	}
}

// BenchmarkLoginPlacement measures what drawing a login's token and
// handle into the user's bucket costs (RedisBuckets draws of each on
// average; no Redis command).
func BenchmarkLoginPlacement(b *testing.B) {
	m := NewManager(Options{
		Store:       NewRedisStore(nil, "", time.Second),
		IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour, RememberIdleTimeout: time.Minute, RememberAbsoluteTimeout: time.Hour,
		OnError: func(http.ResponseWriter, *http.Request, error) {},
	})
	ctx, err := m.scs.Load(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	uid := int64(0)
	for b.Loop() {
		uid++
		if err := m.scs.RenewToken(context.WithValue(ctx, keepOnRenewKey{}, true)); err != nil {
			b.Fatal(err)
		}
		if err := m.placeToken(ctx, uid); err != nil {
			b.Fatal(err)
		}
		if _, err := m.newHandle(uid); err != nil {
			b.Fatal(err)
		}
	}
}
