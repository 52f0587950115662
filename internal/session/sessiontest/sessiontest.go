// Package sessiontest gives tests a real Redis: a pool on
// LATCH_TEST_REDIS_URL (default redis://127.0.0.1:6379/0), a key prefix of
// their own, and a counter of the commands they send. Without a reachable
// Redis a test is skipped, except under CI (CI set), where it fails:
// integration tests must run there.
package sessiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// RedisURL returns the test Redis URL after checking that it answers PING.
func RedisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("LATCH_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	conn, err := redis.DialURL(url, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
	if err == nil {
		_, err = conn.Do("PING")
		conn.Close()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is required under CI: %v", url, err)
		}
		t.Skipf("Redis at %s not reachable (set LATCH_TEST_REDIS_URL): %v", url, err)
	}
	return url
}

// RedisPool returns a pool on the test Redis, closed when the test ends.
func RedisPool(t testing.TB) *redis.Pool {
	t.Helper()
	url := RedisURL(t)
	pool := &redis.Pool{
		MaxIdle: 8,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, url, redis.DialReadTimeout(2*time.Second), redis.DialWriteTimeout(2*time.Second))
		},
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

// Prefix returns a key prefix unique to this test; its keys are deleted
// when the test ends.
func Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "latchtest:" + hex.EncodeToString(b) + ":"
	url := RedisURL(t)
	t.Cleanup(func() {
		conn, err := redis.DialURL(url)
		if err != nil {
			return
		}
		defer conn.Close()
		for _, k := range scan(t, conn, prefix) {
			_, _ = conn.Do("DEL", prefix+k)
		}
	})
	return prefix
}

// RedisKeys lists the keys under prefix, without the prefix, using SCAN
// (tests only; Latch never scans the keyspace on a request path).
func RedisKeys(t testing.TB, pool *redis.Pool, prefix string) []string {
	t.Helper()
	conn := pool.Get()
	defer conn.Close()
	return scan(t, conn, prefix)
}

func scan(t testing.TB, conn redis.Conn, prefix string) []string {
	var keys []string
	cursor := 0
	for {
		reply, err := redis.Values(conn.Do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
		if err != nil {
			t.Errorf("SCAN: %v", err)
			return keys
		}
		cursor, _ = redis.Int(reply[0], nil)
		batch, _ := redis.Strings(reply[1], nil)
		for _, k := range batch {
			keys = append(keys, strings.TrimPrefix(k, prefix))
		}
		if cursor == 0 {
			return keys
		}
	}
}

// Counter counts the Redis commands sent through pools made by CountingPool.
type Counter struct {
	mu   sync.Mutex
	cmds []string
}

// Reset forgets the commands counted so far.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.cmds = nil
	c.mu.Unlock()
}

// Commands returns the command names counted since the last Reset, in order.
func (c *Counter) Commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.cmds...)
}

// CountingPool returns a pool on the test Redis whose connections record
// every command in the returned Counter (PING health checks included).
func CountingPool(t testing.TB) (*redis.Pool, *Counter) {
	t.Helper()
	url := RedisURL(t)
	c := &Counter{}
	pool := &redis.Pool{
		MaxIdle: 8,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			conn, err := redis.DialURLContext(ctx, url, redis.DialReadTimeout(2*time.Second), redis.DialWriteTimeout(2*time.Second))
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, c: c}, nil
		},
	}
	t.Cleanup(func() { pool.Close() })
	return pool, c
}

type countingConn struct {
	redis.Conn
	c *Counter
}

func (cc *countingConn) record(cmd string) {
	if cmd == "" {
		return // redigo flushes with an empty command
	}
	cc.c.mu.Lock()
	cc.c.cmds = append(cc.c.cmds, strings.ToUpper(cmd))
	cc.c.mu.Unlock()
}

func (cc *countingConn) Do(cmd string, args ...any) (any, error) {
	cc.record(cmd)
	return cc.Conn.Do(cmd, args...)
}

func (cc *countingConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	cc.record(cmd)
	return redis.DoContext(cc.Conn, ctx, cmd, args...)
}

func (cc *countingConn) Send(cmd string, args ...any) error {
	cc.record(cmd)
	return cc.Conn.Send(cmd, args...)
}

func (cc *countingConn) ReceiveContext(ctx context.Context) (any, error) {
	return redis.ReceiveContext(cc.Conn, ctx)
}

// SessionHashes keeps the session keys among keys (as RedisKeys returns
// them: "{bucket}:s:<sha256(token)>", session/rediskeys.go) and returns
// their token hashes.
func SessionHashes(keys []string) []string {
	var out []string
	for _, k := range keys {
		if _, h, ok := strings.Cut(k, "}:s:"); ok {
			out = append(out, h)
		}
	}
	return out
}

// UserStateKey returns the Redis key of user id's account state copy
// under prefix: prefix{id mod 1024}:us:<id> (session/rediskeys.go).
func UserStateKey(prefix string, id int64) string {
	return prefix + "{" + strconv.FormatInt(id%1024, 10) + "}:us:" + strconv.FormatInt(id, 10)
}
