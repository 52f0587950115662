// Package clustertest gives tests a real Redis Cluster: 3 masters with one
// replica each (redistest.StartCluster) and a redisconn.Cluster on it.
package clustertest

import (
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redistest"
)

// Start starts the cluster and returns it with a redisconn.Cluster on it
// (2 s timeouts), closed when the test ends.
func Start(t testing.TB) (*redisconn.Cluster, *redistest.Cluster) {
	t.Helper()
	rig := redistest.StartCluster(t, 3, 1)
	src, err := redisconn.NewCluster(rig.Addrs(), "", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src, rig
}

// Keys lists the keys under prefix on every master of src, without the
// prefix, using SCAN (tests only).
func Keys(t testing.TB, src *redisconn.Cluster, prefix string) []string {
	t.Helper()
	var keys []string
	err := src.Masters(func(_ string, conn redis.Conn) error {
		cursor := 0
		for {
			reply, err := redis.Values(conn.Do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
			if err != nil {
				return err
			}
			cursor, _ = redis.Int(reply[0], nil)
			batch, _ := redis.Strings(reply[1], nil)
			for _, k := range batch {
				keys = append(keys, strings.TrimPrefix(k, prefix))
			}
			if cursor == 0 {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
