package main

import (
	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/redisconn"
)

// openRedis returns the pool of connections to the Redis that
// LATCH_REDIS_URL names (config.Redis, parsed once by config.Load), with
// every dial, read and write bounded by LATCH_REDIS_TIMEOUT; nil, nil when
// no Redis is configured (the embedded session store). The caller closes
// the pool. It is the one place a Redis pool is built: the server and
// every CLI command that touches sessions get theirs here.
func openRedis(cfg config.Config) (*redis.Pool, error) {
	r := cfg.Redis
	if r == nil {
		return nil, nil
	}
	opts := []redis.DialOption{redis.DialDatabase(r.DB), redis.DialUseTLS(r.TLS)}
	if r.Password != "" {
		opts = append(opts, redis.DialPassword(r.Password))
	}
	if r.Username != "" {
		opts = append(opts, redis.DialUsername(r.Username))
	}
	return redisconn.NewPool(r.Addr, cfg.RedisTimeout, opts...), nil
}
