package redisconn

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/session/sessiontest"
)

func TestStale(t *testing.T) {
	for _, err := range []error{io.EOF, syscall.ECONNRESET, syscall.EPIPE, fmt.Errorf("read: %w", io.EOF)} {
		if !Stale(err) {
			t.Errorf("Stale(%v) = false", err)
		}
	}
	for _, err := range []error{errors.New("WRONGTYPE"), redis.Error("NOSCRIPT"), syscall.ECONNREFUSED} {
		if Stale(err) {
			t.Errorf("Stale(%v) = true", err)
		}
	}
}

// TestDoSurvivesDeadIdleConnections: after every idle connection of the
// pool was closed by the server (as after a Redis restart), Do still
// succeeds, on a fresh connection.
func TestDoSurvivesDeadIdleConnections(t *testing.T) {
	pool := sessiontest.RedisPool(t)
	var conns []redis.Conn
	var ids []int64
	for range 3 {
		c := pool.Get()
		id, err := redis.Int64(c.Do("CLIENT", "ID"))
		if err != nil {
			t.Fatal(err)
		}
		conns, ids = append(conns, c), append(ids, id)
	}
	for _, c := range conns {
		c.Close() // back to the pool, idle
	}
	admin, err := redis.DialURL(sessiontest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, id := range ids {
		if _, err := admin.Do("CLIENT", "KILL", "ID", id); err != nil {
			t.Fatal(err)
		}
	}
	attempts := 0
	reply, err := Do(t.Context(), pool, func(c redis.Conn) (any, error) {
		attempts++
		return redis.DoContext(c, t.Context(), "PING")
	})
	if s, _ := redis.String(reply, err); s != "PONG" {
		t.Fatalf("Do after the idle connections died: %v, %v; want PONG", reply, err)
	}
	if attempts < 2 {
		t.Errorf("fn ran %d times; want a retry after a dead connection", attempts)
	}
}
