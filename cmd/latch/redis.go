package main

import (
	"strings"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/redisconn"
)

// redisPool is the Redis connection pool of one deployment mode: a
// *redis.Pool on one Redis, a *redisconn.SentinelPool, or a
// *redisconn.Cluster. Stores and the
// throttle borrow from it (redisconn.Source), the metrics read its Stats,
// and the app closes it.
type redisPool interface {
	redisconn.Source
	Stats() redis.PoolStats
	Close() error
}

var (
	_ redisPool = (*redis.Pool)(nil)
	_ redisPool = (*redisconn.SentinelPool)(nil)
	_ redisPool = (*redisconn.Cluster)(nil)
)

// openRedis returns the pool of connections to the Redis the
// configuration names (config.Redis, parsed once by config.Load): a Redis
// Cluster when LATCH_REDIS_CLUSTER is set (redisconn.NewCluster: an
// unreachable cluster at start is retried on use, like an unreachable
// Redis), the master Redis Sentinel names when LATCH_REDIS_SENTINELS is
// set (redisconn.NewSentinelPool), else the one Redis at LATCH_REDIS_URL.
// Every dial, read and write is bounded by LATCH_REDIS_TIMEOUT. topo, when
// not nil, is told of each change of master (Sentinel) or reload of the
// slot map (Cluster). It returns nil, nil when no Redis is configured (the
// embedded session store). The caller closes the pool. It is the one place
// a Redis pool is built: the server and every CLI command that touches
// sessions get theirs here.
func openRedis(cfg config.Config, topo redisconn.TopologyObserver) (redisPool, error) {
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
	if len(cfg.RedisCluster) > 0 {
		cl, err := redisconn.NewCluster(cfg.RedisCluster, r.Password, cfg.RedisTimeout)
		if cl == nil {
			return nil, err
		}
		if topo != nil {
			cl.Observe(topo)
		}
		return cl, nil
	}
	if s := cfg.RedisSentinel; s.Enabled() {
		so := redisconn.SentinelOptions{
			Sentinels:        s.Addrs,
			MasterName:       s.Master,
			SentinelPassword: s.Password,
			DialOptions:      opts,
			Timeout:          cfg.RedisTimeout,
			PoolSize:         redisconn.PoolSize,
		}
		if topo != nil {
			so.Observer = topo
		}
		return redisconn.NewSentinelPool(so)
	}
	return redisconn.NewPool(r.Addr, cfg.RedisTimeout, opts...), nil
}

// redisAddr names the Redis in logs, without credentials: its host:port,
// the cluster's seed nodes, or the Sentinels and the master name.
func redisAddr(cfg config.Config) string {
	if len(cfg.RedisCluster) > 0 {
		return "cluster " + strings.Join(cfg.RedisCluster, ",")
	}
	if s := cfg.RedisSentinel; s.Enabled() {
		return "sentinel " + s.Master + "@" + strings.Join(s.Addrs, ",")
	}
	if cfg.Redis == nil {
		return ""
	}
	return cfg.Redis.Addr
}
