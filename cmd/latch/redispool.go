package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/session"
)

// redisPool is the Redis connection pool of one deployment mode: a
// *redis.Pool on one Redis, or a *redisconn.SentinelPool. Stores and the
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
)

// redisPoolSize is how many Redis connections one instance may hold, all
// kept idle (as session.NewRedisPool does, for the same reason).
const redisPoolSize = 256

// openRedisPool returns the pool the configuration names: behind Redis
// Sentinel when LATCH_REDIS_SENTINELS is set (redisconn.NewSentinelPool,
// dialing the master the Sentinels name), else one Redis at
// LATCH_REDIS_URL. LATCH_REDIS_PASSWORD is the data password when the URL
// has none. Every dial, read and write is bounded by LATCH_REDIS_TIMEOUT.
func openRedisPool(cfg config.Config) (redisPool, error) {
	if s := cfg.RedisSentinel; s.Enabled() {
		opts, err := sentinelDialOptions(cfg.RedisURL, cfg.RedisPassword)
		if err != nil {
			return nil, err
		}
		return redisconn.NewSentinelPool(redisconn.SentinelOptions{
			Sentinels:        s.Addrs,
			MasterName:       s.Master,
			SentinelPassword: s.Password,
			DialOptions:      opts,
			Timeout:          cfg.RedisTimeout,
			PoolSize:         redisPoolSize,
		})
	}
	return session.NewRedisPool(withPassword(cfg.RedisURL, cfg.RedisPassword), cfg.RedisTimeout)
}

// sentinelDialOptions returns the options that dial the master in
// Sentinel mode: user, password, database and TLS from rawURL
// ("redis://[user:pass@]/db", validated by config.Load; "" = none,
// database 0), and password when the URL has none. (On main, config.Redis
// holds these fields already parsed.)
func sentinelDialOptions(rawURL, password string) ([]redis.DialOption, error) {
	var opts []redis.DialOption
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("config: LATCH_REDIS_URL: %w", err)
		}
		opts = append(opts, redis.DialUseTLS(u.Scheme == "rediss"))
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				password = pw
				if name := u.User.Username(); name != "" {
					opts = append(opts, redis.DialUsername(name))
				}
			} else {
				password = u.User.Username() // redis://secret@…: a lone name is the password
			}
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			n, err := strconv.Atoi(db)
			if err != nil || n < 0 {
				return nil, errors.New("config: LATCH_REDIS_URL: the database after / must be a whole number")
			}
			opts = append(opts, redis.DialDatabase(n))
		}
	}
	if password != "" {
		opts = append(opts, redis.DialPassword(password))
	}
	return opts, nil
}

// withPassword returns rawURL with password in it when it has none
// (password "" or an unparsable URL: rawURL unchanged).
func withPassword(rawURL, password string) string {
	u, err := url.Parse(rawURL)
	if password == "" || err != nil {
		return rawURL
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return rawURL
		}
		u.User = url.UserPassword(u.User.Username(), password)
	} else {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}

// redisAddr names the Redis in logs, without credentials: the URL's host,
// or the Sentinels and master name.
func redisAddr(cfg config.Config) string {
	if s := cfg.RedisSentinel; s.Enabled() {
		return "sentinel " + s.Master + "@" + strings.Join(s.Addrs, ",")
	}
	return redisHost(cfg.RedisURL)
}
