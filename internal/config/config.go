// Package config turns Latch's environment variables into a validated Config
// value. There is no package-level state: callers pass the lookup function
// (os.Getenv in main, a map in tests) and get a value back.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/realclientip/realclientip-go"

	"github.com/latch/latch/internal/quota"
)

// Config is Latch's whole run-time configuration. Durations are Go
// durations; zero values are never valid after Load.
type Config struct {
	// Addr is the TCP listen address (LATCH_ADDR), e.g. "127.0.0.1:8080".
	Addr string
	// DatabaseURL is "sqlite:PATH" or "postgres://…" (LATCH_DATABASE_URL).
	DatabaseURL string
	// DatabaseMaxConns is the most database connections the pool opens at
	// once (LATCH_DATABASE_MAX_CONNS, 1 to 1000); 0 (the default) means the
	// driver's default: 2 × GOMAXPROCS (at least 4) on SQLite, 10 on
	// PostgreSQL. The pool keeps them all open (see store.Pool for why).
	DatabaseMaxConns int
	// MetricsAddr is the listen address of the Prometheus metrics endpoint
	// (LATCH_METRICS_ADDR, host:port; GET /metrics there). Empty (the
	// default) means no metrics listener. It is never the public listener.
	MetricsAddr string
	// Redis is the Redis that keeps sessions and throttle counters, from
	// LATCH_REDIS_URL ("redis://[user:pass@]host:port/db", parsed once here
	// by ParseRedisURL); nil when neither it nor LATCH_REDIS_SENTINELS is
	// set: the embedded session store in the SQL database (one instance
	// only). In Sentinel mode the URL is optional and names no host
	// ("redis://:PASSWORD@/0"): Redis.Addr is then empty and the Sentinels
	// name the master. LATCH_REDIS_PASSWORD fills Redis.Password when the
	// URL has none.
	Redis *Redis
	// RedisKeyPrefix starts every session key (LATCH_REDIS_KEY_PREFIX,
	// default "latch:"), so several deployments can share a Redis.
	RedisKeyPrefix string
	// RedisTimeout bounds connecting to, reading from and writing to Redis
	// (LATCH_REDIS_TIMEOUT, default 500ms).
	RedisTimeout time.Duration
	// RedisSentinel selects Redis Sentinel mode (LATCH_REDIS_SENTINEL*;
	// sentinel.go).
	RedisSentinel RedisSentinel

	// Redis Cluster (issue 9). RedisCluster lists some nodes of a Redis
	// Cluster, "host:port" each (LATCH_REDIS_CLUSTER, comma-separated; the
	// rest is learned from CLUSTER SLOTS); non-empty selects Cluster mode
	// instead of LATCH_REDIS_URL; Redis is then set with no address, and
	// its Password is the nodes' (LATCH_REDIS_PASSWORD, "" = none).
	RedisCluster []string

	// IdleTimeout ends a session after this long without a request
	// (LATCH_IDLE_TIMEOUT, default 30m). OWASP ASVS 5.0 V7.3.1.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login, whatever the
	// activity (LATCH_ABSOLUTE_TIMEOUT, default 12h). OWASP ASVS 5.0 V7.3.2.
	AbsoluteTimeout time.Duration
	// RememberIdleTimeout and RememberAbsoluteTimeout replace the two above
	// for "remember me" sessions (defaults 336h and 720h).
	RememberIdleTimeout     time.Duration
	RememberAbsoluteTimeout time.Duration
	// API configures the native-app JSON API (LATCH_API_*: api.go).
	API API

	// CookieSecure sets the Secure attribute and the __Host- cookie name
	// prefix (LATCH_COOKIE_SECURE, default true).
	CookieSecure bool

	// TrustedProxies are the proxies whose X-Forwarded-For header is
	// believed (LATCH_TRUSTED_PROXIES: comma-separated IPs or CIDRs; default
	// none, so the connection's peer is the client).
	TrustedProxies []net.IPNet

	// MaxSessionsPerUser limits concurrent sessions per user; when a login
	// would exceed it, the oldest session is revoked
	// (LATCH_MAX_SESSIONS_PER_USER, default 100; 0 = unlimited). The
	// default bounds what one account can make Latch store: a script that
	// signs in with the right password in a loop (successful sign-ins are
	// not throttled) would otherwise fill Redis with app sessions.
	MaxSessionsPerUser int

	// ReauthWindow is how recently the password must have been entered for
	// a sensitive action (LATCH_REAUTH_WINDOW, default 5m; OWASP ASVS 5.0
	// V7.5.2 re-authentication).
	ReauthWindow time.Duration

	// LogLevel is the minimum slog level (LATCH_LOG_LEVEL, default info).
	LogLevel slog.Level

	// Throttle holds the quotas of failed logins and registrations, each
	// "COUNT/PERIOD" (COUNT at once, then one every PERIOD/COUNT) or "off":
	// LATCH_THROTTLE_ACCOUNT (default 10/1h), LATCH_THROTTLE_ACCOUNT_IP
	// (5/15m), LATCH_THROTTLE_IP (60/10m), LATCH_THROTTLE_REGISTER (10/1h).
	// quota.Defaults says why.
	Throttle quota.Quotas
	// KnownIPWindow is how long after a successful login from a network
	// (an IPv4 address, an IPv6 /64: clientnet.Of) that network stays
	// exempt from the account's per-account quota
	// (LATCH_THROTTLE_KNOWN_IP_WINDOW, default 2160h = 90 days).
	KnownIPWindow time.Duration

	// Argon2 is the argon2id cost of new password hashes
	// (LATCH_ARGON2_MEMORY, LATCH_ARGON2_TIME, LATCH_ARGON2_PARALLELISM).
	Argon2 Argon2

	// Lifecycle: readiness and graceful shutdown behind a load balancer
	// (README "Production").

	// ReadyTimeout bounds how long GET /readyz waits for the database and
	// Redis to answer before it reports 503 (LATCH_READY_TIMEOUT, default
	// 1s). Keep it below the balancer's check timeout.
	ReadyTimeout time.Duration
	// ShutdownDrain is how long, after SIGTERM, the server goes on serving
	// every request while /readyz answers 503, so that the balancer's
	// health check sees the 503 and stops sending new requests before the
	// listener closes (LATCH_SHUTDOWN_DRAIN, default 5s; 0 = none). Set it
	// above the balancer's fall × interval + check timeout. It is skipped
	// when nothing has asked /readyz since the process started: no
	// balancer is watching then.
	ShutdownDrain time.Duration
	// ShutdownTimeout bounds how long, after the drain, in-flight requests
	// may take to finish before their connections are closed and the
	// process exits (LATCH_SHUTDOWN_TIMEOUT, default 15s).
	ShutdownTimeout time.Duration
}

// Argon2 is the argon2id cost (RFC 9106 §3.1) as configured: plain numbers,
// which cmd/latch turns into password.Params (config imports no behaviour
// of hashing). The ranges are those internal/password accepts, in a new
// hash as in a stored one (password.MaxMemory, password.MaxIterations, a
// uint8 of lanes, 8 KiB per lane); cmd/latch's tests check that they agree.
type Argon2 struct {
	// MemoryKiB is the memory of one hash in KiB (LATCH_ARGON2_MEMORY,
	// Argon2MinMemoryKiB to Argon2MaxMemoryKiB and at least 8 per lane;
	// default 19456, OWASP's Password Storage Cheat Sheet).
	MemoryKiB uint32
	// Time is the number of passes over the memory (LATCH_ARGON2_TIME,
	// 1 to Argon2MaxTime; default 2).
	Time uint32
	// Parallelism is the number of lanes (LATCH_ARGON2_PARALLELISM, 1 to
	// Argon2MaxParallelism; default 1).
	Parallelism uint8
}

// Ranges of the Argon2 settings (see Argon2).
const (
	Argon2MinMemoryKiB   = 8       // KiB: RFC 9106 §3.1, 8 KiB per lane
	Argon2MaxMemoryKiB   = 1 << 20 // KiB (1 GiB): password.MaxMemory
	Argon2MaxTime        = 100     // passes: password.MaxIterations
	Argon2MaxParallelism = 255     // lanes: the most an argon2id hash can name
)

// InvalidError reports one bad variable; its message names the variable so
// that an operator can fix it without reading code.
type InvalidError struct {
	Var    string // e.g. "LATCH_IDLE_TIMEOUT"
	Value  string // the value as given
	Reason string // plain-language reason
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("config: %s=%q: %s", e.Var, e.Value, e.Reason)
}

// Load reads every LATCH_* variable through getenv, applies defaults and
// validates the result. It returns all problems at once, joined with
// errors.Join; each is an *InvalidError.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	duration := func(name, def string) time.Duration {
		raw := get(name, def)
		d, err := time.ParseDuration(raw)
		switch {
		case err != nil:
			errs = append(errs, &InvalidError{name, raw, "not a Go duration such as 30m or 12h"})
		case d <= 0:
			errs = append(errs, &InvalidError{name, raw, "must be greater than zero"})
		}
		return d
	}

	c := Config{
		Addr:                    get("LATCH_ADDR", "127.0.0.1:8080"),
		DatabaseURL:             get("LATCH_DATABASE_URL", "sqlite:./data/latch.db"),
		RedisKeyPrefix:          get("LATCH_REDIS_KEY_PREFIX", "latch:"),
		RedisTimeout:            duration("LATCH_REDIS_TIMEOUT", "500ms"),
		IdleTimeout:             duration("LATCH_IDLE_TIMEOUT", "30m"),
		AbsoluteTimeout:         duration("LATCH_ABSOLUTE_TIMEOUT", "12h"),
		RememberIdleTimeout:     duration("LATCH_REMEMBER_IDLE_TIMEOUT", "336h"),
		RememberAbsoluteTimeout: duration("LATCH_REMEMBER_ABSOLUTE_TIMEOUT", "720h"),
	}

	c.ReauthWindow = duration("LATCH_REAUTH_WINDOW", "5m")
	errs = append(errs, loadAPI(get, &c)...)
	if raw := get("LATCH_TRUSTED_PROXIES", ""); raw != "" {
		nets, err := realclientip.AddressesAndRangesToIPNets(splitList(raw)...)
		if err != nil {
			errs = append(errs, &InvalidError{"LATCH_TRUSTED_PROXIES", raw, "must be comma-separated IP addresses or CIDR ranges, e.g. 10.0.0.0/8,192.0.2.1"})
		}
		c.TrustedProxies = nets
	}
	if raw := get("LATCH_MAX_SESSIONS_PER_USER", "100"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > 10000 {
			errs = append(errs, &InvalidError{"LATCH_MAX_SESSIONS_PER_USER", raw, "must be a whole number from 0 (no limit) to 10000"})
		}
		c.MaxSessionsPerUser = n
	}

	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, &InvalidError{"LATCH_ADDR", c.Addr, "must be host:port, e.g. 127.0.0.1:8080"})
	}
	if raw := get("LATCH_DATABASE_MAX_CONNS", "0"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > 1000 {
			errs = append(errs, &InvalidError{"LATCH_DATABASE_MAX_CONNS", raw, "must be a whole number from 1 to 1000, or 0 (the default) for the driver's default pool size"})
		}
		c.DatabaseMaxConns = n
	}
	if c.MetricsAddr = get("LATCH_METRICS_ADDR", ""); c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, &InvalidError{"LATCH_METRICS_ADDR", c.MetricsAddr, "must be host:port, e.g. 127.0.0.1:9090"})
		} else if c.MetricsAddr == c.Addr && port != "0" { // port 0: the kernel picks two different ports
			errs = append(errs, &InvalidError{"LATCH_METRICS_ADDR", c.MetricsAddr, "must differ from LATCH_ADDR: metrics are never served on the public listener"})
		}
	}
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		if path := strings.TrimPrefix(strings.TrimPrefix(c.DatabaseURL, "sqlite:"), "//"); path == "" {
			errs = append(errs, &InvalidError{"LATCH_DATABASE_URL", c.DatabaseURL, "needs a file path, e.g. sqlite:./data/latch.db"})
		}
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
	default:
		errs = append(errs, &InvalidError{"LATCH_DATABASE_URL", redact(c.DatabaseURL), "must start with sqlite: or postgres://"})
	}
	// Redis Sentinel (sentinel.go) first: it decides whether the URL must
	// name a host.
	errs = append(errs, loadRedisSentinel(get, &c)...)
	errs = append(errs, c.loadRedisCluster(get)...)
	if raw := get("LATCH_REDIS_URL", ""); raw != "" {
		parse := ParseRedisURL
		if c.RedisSentinel.Enabled() {
			parse = parseSentinelRedisURL
		}
		r, err := parse(raw)
		if err != nil {
			errs = append(errs, &InvalidError{"LATCH_REDIS_URL", redactRedis(raw), err.Error()})
		}
		c.Redis = r
	} else if c.RedisSentinel.Enabled() || len(c.RedisCluster) > 0 {
		c.Redis = &Redis{} // the Sentinels or the cluster name the nodes
	}
	if pw := get("LATCH_REDIS_PASSWORD", ""); pw != "" {
		switch {
		case c.Redis == nil:
			errs = append(errs, &InvalidError{"LATCH_REDIS_PASSWORD", "(hidden)", "needs LATCH_REDIS_URL, LATCH_REDIS_SENTINELS or LATCH_REDIS_CLUSTER"})
		case c.Redis.Password == "":
			c.Redis.Password = pw
		}
	}
	if c.AbsoluteTimeout > 0 && c.IdleTimeout > c.AbsoluteTimeout {
		errs = append(errs, &InvalidError{"LATCH_IDLE_TIMEOUT", c.IdleTimeout.String(), "must not exceed LATCH_ABSOLUTE_TIMEOUT (" + c.AbsoluteTimeout.String() + "; the idle timeout's default is 30m: lower LATCH_IDLE_TIMEOUT too)"})
	}
	if c.RememberAbsoluteTimeout > 0 && c.RememberIdleTimeout > c.RememberAbsoluteTimeout {
		errs = append(errs, &InvalidError{"LATCH_REMEMBER_IDLE_TIMEOUT", c.RememberIdleTimeout.String(), "must not exceed LATCH_REMEMBER_ABSOLUTE_TIMEOUT"})
	}

	switch raw := strings.ToLower(get("LATCH_COOKIE_SECURE", "true")); raw {
	case "true", "1", "yes":
		c.CookieSecure = true
	case "false", "0", "no":
		c.CookieSecure = false
	default:
		errs = append(errs, &InvalidError{"LATCH_COOKIE_SECURE", raw, "must be true or false"})
	}

	def := quota.Defaults()
	for _, q := range []struct {
		name string
		dst  *quota.Quota
		def  quota.Quota
	}{
		{"LATCH_THROTTLE_ACCOUNT", &c.Throttle.Account, def.Account},
		{"LATCH_THROTTLE_ACCOUNT_IP", &c.Throttle.AccountIP, def.AccountIP},
		{"LATCH_THROTTLE_IP", &c.Throttle.IP, def.IP},
		{"LATCH_THROTTLE_REGISTER", &c.Throttle.Register, def.Register},
	} {
		raw := getenv(q.name)
		if strings.TrimSpace(raw) == "" {
			*q.dst = q.def
			continue
		}
		v, err := quota.Parse(raw)
		if err != nil {
			errs = append(errs, &InvalidError{q.name, raw, err.Error() + ` (10/1h: 10 at once, then one every 6 minutes)`})
		}
		*q.dst = v
	}
	c.KnownIPWindow = duration("LATCH_THROTTLE_KNOWN_IP_WINDOW", "2160h")

	// A whole decimal number in [lo, hi], else an InvalidError: "2x",
	// "2.5", "0x10", "+2" and "1e3" are refused, not read as a prefix.
	number := func(name, def string, lo, hi uint64, unit string) uint64 {
		raw := get(name, def)
		n, err := strconv.ParseUint(raw, 10, 64)
		if err != nil || n < lo || n > hi {
			errs = append(errs, &InvalidError{name, raw, fmt.Sprintf("must be a whole number from %d to %d%s", lo, hi, unit)})
			return 0
		}
		return n
	}
	c.Argon2 = Argon2{
		MemoryKiB:   uint32(number("LATCH_ARGON2_MEMORY", "19456", Argon2MinMemoryKiB, Argon2MaxMemoryKiB, " (KiB)")),
		Time:        uint32(number("LATCH_ARGON2_TIME", "2", 1, Argon2MaxTime, " (passes)")),
		Parallelism: uint8(number("LATCH_ARGON2_PARALLELISM", "1", 1, Argon2MaxParallelism, " (lanes)")),
	}
	if a := c.Argon2; a.MemoryKiB > 0 && a.Parallelism > 0 && a.MemoryKiB < 8*uint32(a.Parallelism) {
		errs = append(errs, &InvalidError{"LATCH_ARGON2_MEMORY", get("LATCH_ARGON2_MEMORY", "19456"),
			fmt.Sprintf("must be at least 8 KiB per lane: %d KiB for LATCH_ARGON2_PARALLELISM=%d", 8*uint32(a.Parallelism), a.Parallelism)})
	}

	c.ReadyTimeout = duration("LATCH_READY_TIMEOUT", "1s")
	c.ShutdownTimeout = duration("LATCH_SHUTDOWN_TIMEOUT", "15s")
	if raw := get("LATCH_SHUTDOWN_DRAIN", "5s"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			errs = append(errs, &InvalidError{"LATCH_SHUTDOWN_DRAIN", raw, "must be a Go duration such as 5s, or 0 for no drain"})
		}
		c.ShutdownDrain = d
	}

	raw := get("LATCH_LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(raw)); err != nil {
		errs = append(errs, &InvalidError{"LATCH_LOG_LEVEL", raw, "must be debug, info, warn or error"})
	}

	return c, errors.Join(errs...)
}

// splitList splits a comma-separated list and drops empty items.
func splitList(raw string) []string {
	var out []string
	for _, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// redact removes a password from a URL so that an error message can show it.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// loadRedisCluster reads the Redis Cluster setting (LATCH_REDIS_CLUSTER;
// the nodes' password is LATCH_REDIS_PASSWORD, in c.Redis) into c and returns what is wrong with them. The
// key prefix must not hold "{" or "}": every Redis key's hash tag comes
// after it (session/rediskeys.go).
func (c *Config) loadRedisCluster(get func(name, def string) string) []error {
	var errs []error
	if strings.ContainsAny(c.RedisKeyPrefix, "{}") {
		errs = append(errs, &InvalidError{"LATCH_REDIS_KEY_PREFIX", c.RedisKeyPrefix, "must not contain { or } (they would change the keys' Redis Cluster hash slots)"})
	}
	raw := get("LATCH_REDIS_CLUSTER", "")
	if raw == "" {
		return errs
	}
	for _, addr := range splitList(raw) {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			errs = append(errs, &InvalidError{"LATCH_REDIS_CLUSTER", raw, "must be comma-separated host:port node addresses, e.g. 10.0.0.1:7000,10.0.0.2:7000"})
			return errs
		}
		c.RedisCluster = append(c.RedisCluster, addr)
	}
	if len(c.RedisCluster) == 0 {
		errs = append(errs, &InvalidError{"LATCH_REDIS_CLUSTER", raw, "must name at least one host:port node"})
	}
	if get("LATCH_REDIS_URL", "") != "" {
		errs = append(errs, &InvalidError{"LATCH_REDIS_CLUSTER", raw, "must not be set together with LATCH_REDIS_URL: choose one Redis"})
	}
	if c.RedisSentinel.Enabled() {
		errs = append(errs, &InvalidError{"LATCH_REDIS_CLUSTER", raw, "must not be set together with LATCH_REDIS_SENTINELS: choose one Redis"})
	}
	return errs
}
