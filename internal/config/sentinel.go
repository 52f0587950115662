package config

import (
	"errors"
	"net"
	"net/url"
	"strconv"
)

// RedisSentinel selects Redis Sentinel mode (issue 9): Latch asks the
// Sentinels which Redis is the master of the set Master, and asks again
// after a failover. Empty Addrs (the default) means no Sentinel: Latch
// connects to LATCH_REDIS_URL directly.
type RedisSentinel struct {
	// Addrs are the Sentinels' host:port addresses
	// (LATCH_REDIS_SENTINELS, comma-separated), tried in order.
	Addrs []string
	// Master is the name the Sentinels monitor the master under
	// (LATCH_REDIS_SENTINEL_MASTER; required with Addrs).
	Master string
	// Password authenticates to the Sentinels themselves
	// (LATCH_REDIS_SENTINEL_PASSWORD, optional). The data password is
	// LATCH_REDIS_URL's or LATCH_REDIS_PASSWORD.
	Password string
}

// Enabled reports whether Sentinel mode is configured.
func (s RedisSentinel) Enabled() bool { return len(s.Addrs) > 0 }

// UsesRedis reports whether sessions live in Redis (LATCH_REDIS_URL, or
// Sentinel mode) rather than in the embedded SQL store.
func (c Config) UsesRedis() bool { return c.Redis != nil }

// loadRedisSentinel reads LATCH_REDIS_SENTINELS, LATCH_REDIS_SENTINEL_MASTER,
// LATCH_REDIS_SENTINEL_PASSWORD and LATCH_REDIS_PASSWORD into c (get
// returns a trimmed variable or its default) and returns one
// *InvalidError per problem. In Sentinel mode LATCH_REDIS_URL is optional
// and gives only the data connection's user, password, database number and
// scheme (rediss for TLS): its host must be left out (redis://:PASSWORD@/0),
// since the master's address comes from the Sentinels. It runs before
// Load's own LATCH_REDIS_URL check, which it replaces in Sentinel mode.
func loadRedisSentinel(get func(name, def string) string, c *Config) []error {
	var errs []error
	raw := get("LATCH_REDIS_SENTINELS", "")
	c.RedisSentinel.Master = get("LATCH_REDIS_SENTINEL_MASTER", "")
	c.RedisSentinel.Password = get("LATCH_REDIS_SENTINEL_PASSWORD", "")
	if raw == "" {
		if c.RedisSentinel.Master != "" {
			errs = append(errs, &InvalidError{"LATCH_REDIS_SENTINEL_MASTER", c.RedisSentinel.Master,
				"needs LATCH_REDIS_SENTINELS (the Sentinels' host:port addresses)"})
		}
		if c.RedisSentinel.Password != "" {
			errs = append(errs, &InvalidError{"LATCH_REDIS_SENTINEL_PASSWORD", "(hidden)",
				"needs LATCH_REDIS_SENTINELS (the Sentinels' host:port addresses)"})
		}
		return errs
	}
	for _, addr := range splitList(raw) {
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			errs = append(errs, &InvalidError{"LATCH_REDIS_SENTINELS", raw,
				"must be comma-separated host:port addresses, e.g. 10.0.0.1:26379,10.0.0.2:26379"})
			break
		}
		c.RedisSentinel.Addrs = append(c.RedisSentinel.Addrs, addr)
	}
	if len(splitList(raw)) == 0 {
		errs = append(errs, &InvalidError{"LATCH_REDIS_SENTINELS", raw,
			"must be comma-separated host:port addresses, e.g. 10.0.0.1:26379,10.0.0.2:26379"})
	}
	if c.RedisSentinel.Master == "" {
		errs = append(errs, &InvalidError{"LATCH_REDIS_SENTINEL_MASTER", "",
			"is required with LATCH_REDIS_SENTINELS: the master name the Sentinels monitor (sentinel monitor NAME …)"})
	}
	return errs
}

// parseSentinelRedisURL reads LATCH_REDIS_URL in Sentinel mode: only
// credentials, database and scheme ("redis://:PASSWORD@/0", "rediss://…"
// for TLS); a host is refused, since the Sentinels name the master.
func parseSentinelRedisURL(raw string) (*Redis, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Opaque != "" {
		return nil, errors.New("must look like redis://[user:pass@]/db in Sentinel mode")
	}
	if u.Host != "" {
		return nil, errors.New("must not name a host in Sentinel mode (the Sentinels name the master); give only credentials and database, e.g. redis://:PASSWORD@/0")
	}
	// The same reading of user, password and database as ParseRedisURL:
	// parse it with a placeholder host and drop the address.
	u.Host = "sentinel-master"
	r, err := ParseRedisURL(u.String())
	if err != nil {
		return nil, err
	}
	r.URL, r.Addr = raw, ""
	return r, nil
}
