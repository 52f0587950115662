// Package clustertest gives tests a real Redis Cluster: 3 masters with one
// replica each (redistest.StartCluster) and a redisconn.Cluster on it.
package clustertest

import (
	"fmt"
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

// KeysByMaster counts the keys matching pattern (a SCAN MATCH pattern)
// on each master of src, by master address.
func KeysByMaster(t testing.TB, src *redisconn.Cluster, pattern string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := src.Masters(func(addr string, conn redis.Conn) error {
		cursor := 0
		for {
			reply, err := redis.Values(conn.Do("SCAN", cursor, "MATCH", pattern, "COUNT", 1000))
			if err != nil {
				return err
			}
			cursor, _ = redis.Int(reply[0], nil)
			batch, _ := redis.Strings(reply[1], nil)
			out[addr] += len(batch)
			if cursor == 0 {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RejectedCalls returns the commands the running nodes of rig refused
// before running them (INFO commandstats rejected_calls, summed: MOVED
// and ASK redirections among them), so a test can show that a call went
// to the right node at once.
func RejectedCalls(t testing.TB, rig *redistest.Cluster) int {
	t.Helper()
	n := 0
	for _, p := range rig.Nodes {
		if !p.Running() {
			continue
		}
		info, err := redis.String(p.Do("INFO", "commandstats"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			_, rest, ok := strings.Cut(line, "rejected_calls=")
			if !ok {
				continue
			}
			v, _, _ := strings.Cut(rest, ",")
			var c int
			fmt.Sscan(v, &c)
			n += c
		}
	}
	return n
}
