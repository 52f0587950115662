package sessiontest

import (
	"context"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redistest"
)

// Cluster starts a Redis Cluster of 3 masters with one replica each
// (redistest.StartCluster) and returns it with a redisconn.Cluster on
// it, closed when the test ends.
func Cluster(t testing.TB) (*redisconn.Cluster, *redistest.Cluster) {
	t.Helper()
	rig := redistest.StartCluster(t, 3, 1)
	src, err := redisconn.NewCluster(rig.Addrs(), "", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src, rig
}

// CountingSource wraps src so that every command sent on its connections
// is recorded in the returned Counter (it keeps src's Clustered answer).
func CountingSource(src redisconn.Source) (redisconn.Source, *Counter) {
	c := &Counter{}
	return &countingSource{src: src, c: c}, c
}

type countingSource struct {
	src redisconn.Source
	c   *Counter
}

func (s *countingSource) GetContext(ctx context.Context) (redis.Conn, error) {
	conn, err := s.src.GetContext(ctx)
	if err != nil {
		return conn, err
	}
	return &countingConn{Conn: conn, c: s.c}, nil
}

func (s *countingSource) Clustered() bool { return redisconn.Clustered(s.src) }

// ClusterKeys lists the keys under prefix on every master of src,
// without the prefix, using SCAN (tests only).
func ClusterKeys(t testing.TB, src *redisconn.Cluster, prefix string) []string {
	t.Helper()
	var keys []string
	err := src.Masters(func(_ string, conn redis.Conn) error {
		keys = append(keys, scan(t, conn, prefix)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
