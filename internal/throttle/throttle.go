// Package throttle slows down password guessing. It counts failed logins per
// account, per account and client IP, and per client IP, and registration
// attempts per client IP, with the generic cell rate algorithm (GCRA) of
// github.com/throttled/throttled/v2. The counters live in Redis, shared by
// every Latch instance on it (throttled's redigostore), or, in the embedded
// single-instance mode, in this process's memory (throttled's memstore).
//
// A limit only ever delays: each quota refills with time (see Quota), so no
// account is ever locked for good, and a refused attempt does not count, so
// hammering does not extend the wait. Only failures count against the login
// quotas: the server asks CheckLogin before it verifies a password (a
// refused attempt is answered without hashing) and calls LoginFailed after a
// failure. A successful login counts for nothing.
//
// Counting is throttled's GCRARateLimiterCtx. Checking is this package's
// own read of the stored state with the same formula (Limiter.peek):
// throttled's "peek" (quantity 0) writes, and in v2.15.0 counts when that
// write loses a race with a concurrent request.
//
// Exempting the owner's known IPs from the per-account quota is the caller's
// decision: CheckLogin reports which quota refused (Verdict.Scope), and the
// server lets an attempt through when only ScopeAccount refused and the
// account signed in from that IP recently. The per-account-and-IP and per-IP
// quotas apply to known IPs too.
//
// Keys never hold an email address: an account is named by the SHA-256 of
// its normalised address (lower-cased, as user.NormalizeEmail makes its
// lookup key), whether or not the account exists, so unknown and known
// addresses are throttled alike and throttling reveals nothing. Under the
// prefix P (LATCH_REDIS_KEY_PREFIX + "t:"):
//
//	P la:<sha256(account)>             failed logins for the account
//	P lai:<sha256(account NUL ip)>     failed logins for the account from the IP
//	P li:<ip>                          failed logins from the IP
//	P r:<ip>                           registrations from the IP
//	P ls:<sha256(account NUL ip)>      audit sampling of refused attempts (Sample)
//
// where <ip> is an IPv4 address or an IPv6 /64 prefix (one IPv6 subscriber
// usually holds a whole /64). Each key expires when its counter is back to
// rest (redigostore rounds the expiry down to whole seconds).
//
// Concurrency: CheckLogin only reads and LoginFailed counts, so requests
// already past the check when the limit is reached are still answered
// normally (and counted): a key can overshoot its quota by the number of
// password checks in flight for it, which the password hasher bounds (one per
// CPU per instance, and a short queue).
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/throttled/throttled/v2"
	"github.com/throttled/throttled/v2/store/memstore"
	"github.com/throttled/throttled/v2/store/redigostore"

	"github.com/latch/latch/internal/user"
)

// ErrUnavailable wraps every failure to reach the counters (Redis down,
// too slow, or refusing). The server answers it with 503: it fails closed,
// since a login needs the same Redis for its session anyway, and failing open
// would hand an attacker who can slow Redis down unlimited guesses.
var ErrUnavailable = errors.New("throttle: counter store unavailable")

// Scope names the quota that refused an attempt.
type Scope string

// The quotas, as Verdict.Scope reports them.
const (
	ScopeAccount   Scope = "account"
	ScopeAccountIP Scope = "account+ip"
	ScopeIP        Scope = "ip"
	ScopeRegister  Scope = "register"
)

// Verdict is the answer to a check.
type Verdict struct {
	// RetryAfter is how long the client must wait before the attempt would
	// be accepted; 0 means it is accepted now.
	RetryAfter time.Duration
	// Scope is the quota that refused; "" when accepted.
	Scope Scope
}

// Limited reports whether the attempt is refused.
func (v Verdict) Limited() bool { return v.RetryAfter > 0 }

// maxCASAttempts is how often counting may lose a compare-and-swap race
// before it fails.
const maxCASAttempts = 100

// maxStaleRetries bounds how many dead pooled Redis connections (after a
// Redis restart) one operation may meet before it gives up, like the session
// store's.
const maxStaleRetries = 40

// Limiter enforces Quotas. It is safe for concurrent use.
type Limiter struct {
	quotas                                   Quotas
	store                                    throttled.GCRAStoreCtx
	account, accountIP, ip, register, sample *gcra // nil = off
	timeout                                  time.Duration
}

// gcra is one quota's rate limiter.
type gcra struct {
	lim *throttled.GCRARateLimiterCtx
	q   Quota
}

// NewRedis returns a Limiter whose counters live in Redis under prefix
// (e.g. "latch:t:"), shared by every instance that uses the same Redis and
// prefix. db must be the database index pool's connections use (RedisDB of
// the URL the pool dials): throttled's redigostore sends SELECT db on every
// connection it borrows, and the pool is shared with the session store.
// Each operation borrows its connection under the caller's context and is
// bounded by timeout (0 = the context only), like the session store's.
func NewRedis(pool *redis.Pool, prefix string, db int, timeout time.Duration, q Quotas) (*Limiter, error) {
	if pool == nil {
		return nil, errors.New("throttle: nil redis pool")
	}
	return newLimiter(redisStore{pool: pool, prefix: prefix, db: db}, q, timeout)
}

// NewMemory returns a Limiter whose counters live in this process: for the
// embedded single-instance mode. maxKeys bounds memory (the least recently
// used counters are dropped beyond it; <= 0 means 1<<18). now is the clock
// (nil = time.Now); tests pass a fake one to cross periods without sleeping.
func NewMemory(q Quotas, maxKeys int, now func() time.Time) (*Limiter, error) {
	if maxKeys <= 0 {
		maxKeys = 1 << 18
	}
	st, err := memstore.New(maxKeys)
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	if now != nil {
		st.SetTimeNow(now)
	}
	return newLimiter(throttled.WrapStoreWithContext(st), q, 0)
}

func newLimiter(st throttled.GCRAStoreCtx, q Quotas, timeout time.Duration) (*Limiter, error) {
	l := &Limiter{quotas: q, store: st, timeout: timeout}
	for _, x := range []struct {
		dst  **gcra
		q    Quota
		name string
	}{
		{&l.account, q.Account, "account"},
		{&l.accountIP, q.AccountIP, "account+ip"},
		{&l.ip, q.IP, "ip"},
		{&l.register, q.Register, "register"},
		{&l.sample, Quota{Count: 1, Period: time.Minute}, "sample"}, // audit one refusal per account and IP a minute
	} {
		if x.q.Off() {
			continue
		}
		lim, err := throttled.NewGCRARateLimiterCtx(st, throttled.RateQuota{
			MaxRate:  throttled.PerDuration(x.q.Count, x.q.Period),
			MaxBurst: x.q.Count - 1,
		})
		if err != nil {
			return nil, fmt.Errorf("throttle: %s quota %s: %w", x.name, x.q, err)
		}
		// Counting is a read and a compare-and-swap, retried when another
		// request changed the key in between; throttled gives up (an
		// error) after 10 tries. Only counted attempts write (peek only
		// reads), and those are bounded by the password hasher, but a
		// failure that goes uncounted is a free guess: allow more tries.
		lim.SetMaxCASAttemptsLimit(maxCASAttempts)
		*x.dst = &gcra{lim: lim, q: x.q}
	}
	return l, nil
}

// Quotas returns the limits l enforces.
func (l *Limiter) Quotas() Quotas { return l.quotas }

// CheckLogin tells whether a login attempt for account (the email address
// as typed) from ip may have its password checked, without counting it. The
// quotas are checked from the cheapest refusal on (per IP, then per account
// and IP, then per account), and the first that refuses is reported. Errors
// wrap ErrUnavailable.
func (l *Limiter) CheckLogin(ctx context.Context, account, ip string) (Verdict, error) {
	ctx, cancel := l.bound(ctx) // all three counters together, not each
	defer cancel()
	acct, ipk := accountName(account), ipName(ip)
	for _, c := range []struct {
		g     *gcra
		key   string
		scope Scope
	}{
		{l.ip, "li:" + ipk, ScopeIP},
		{l.accountIP, "lai:" + digest(acct, ipk), ScopeAccountIP},
		{l.account, "la:" + digest(acct), ScopeAccount},
	} {
		if c.g == nil {
			continue
		}
		wait, err := l.peek(ctx, c.g, c.key)
		if err != nil {
			return Verdict{}, err
		}
		if wait > 0 {
			return Verdict{RetryAfter: wait, Scope: c.scope}, nil
		}
	}
	return Verdict{}, nil
}

// LoginFailed counts one failed login for account from ip against the
// per-account, per-account-and-IP and per-IP quotas (all three, wherever the
// failure came from). A quota already at its limit (requests that passed
// CheckLogin together) simply stays there. Errors wrap ErrUnavailable.
func (l *Limiter) LoginFailed(ctx context.Context, account, ip string) error {
	ctx, cancel := l.bound(ctx) // all three counters together, not each
	defer cancel()
	acct, ipk := accountName(account), ipName(ip)
	var errs []error
	for _, c := range []struct {
		g   *gcra
		key string
	}{
		{l.account, "la:" + digest(acct)},
		{l.accountIP, "lai:" + digest(acct, ipk)},
		{l.ip, "li:" + ipk},
	} {
		if c.g == nil {
			continue
		}
		if _, _, err := l.count(ctx, "count failed login", c.g, c.key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Register counts one registration attempt from ip and tells whether it may
// go ahead; a refused attempt is not counted. Errors wrap ErrUnavailable.
func (l *Limiter) Register(ctx context.Context, ip string) (Verdict, error) {
	if l.register == nil {
		return Verdict{}, nil
	}
	limited, res, err := l.count(ctx, "count registration", l.register, "r:"+ipName(ip))
	if err != nil || !limited {
		return Verdict{}, err
	}
	return Verdict{RetryAfter: retryAfter(res, l.quotas.Register), Scope: ScopeRegister}, nil
}

// Sample tells whether a refused login attempt for account from ip should
// be written to the audit log: yes for the first one per account and IP in a
// minute, so that an attack shows up in the log without flooding it. Errors
// wrap ErrUnavailable.
func (l *Limiter) Sample(ctx context.Context, account, ip string) (bool, error) {
	limited, _, err := l.count(ctx, "sample", l.sample, "ls:"+digest(accountName(account), ipName(ip)))
	return err == nil && !limited, err
}

// count counts one unit of g's quota for key with throttled's GCRA, unless
// the quota is used up (limited is then true and nothing is counted).
func (l *Limiter) count(ctx context.Context, op string, g *gcra, key string) (limited bool, res throttled.RateLimitResult, err error) {
	err = l.retry(ctx, op, func(ctx context.Context) error {
		var err error
		limited, res, err = g.lim.RateLimitCtx(ctx, key, 1)
		return err
	})
	return limited, res, err
}

// peek returns how long until one more unit of g's quota would be accepted
// for key (0: now), writing nothing. It is the test throttled's GCRA makes
// for a quantity of 1, on the theoretical arrival time (TAT) the store
// holds: the unit is refused while max(now, TAT) + interval - Period is in
// the future. throttled's own peek, RateLimitCtx with quantity 0, is not
// used: it writes the key back, and in v2.15.0, when that compare-and-swap
// loses a race with a concurrent update, its retry runs with quantity 1
// (origQuantity is re-read from the already-changed quantity), so a mere
// check counts as an attempt under concurrency (TestPeekNeverCounts).
func (l *Limiter) peek(ctx context.Context, g *gcra, key string) (time.Duration, error) {
	var (
		tatNanos int64
		now      time.Time
	)
	err := l.retry(ctx, "check login", func(ctx context.Context) error {
		var err error
		tatNanos, now, err = l.store.GetWithTime(ctx, key)
		return err
	})
	if err != nil || tatNanos == -1 {
		return 0, err
	}
	// The same numbers throttled derives from the RateQuota built in
	// newLimiter: emission interval Period/Count, tolerance interval×Count.
	interval := g.q.Interval()
	tolerance := interval * time.Duration(g.q.Count)
	next := time.Unix(0, tatNanos)
	if now.After(next) {
		next = now
	}
	if allowAt := next.Add(interval - tolerance); allowAt.After(now) {
		return allowAt.Sub(now), nil
	}
	return 0, nil
}

// retry runs fn bounded by l.timeout, again on a pooled Redis connection
// that Redis had already closed (a restart): like the session store, a
// Redis restart costs no failed request. Errors wrap ErrUnavailable.
// bound limits ctx to the limiter's timeout (LATCH_REDIS_TIMEOUT), so that
// a call touching several counters waits for a stalled Redis only once.
func (l *Limiter) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, l.timeout)
}

func (l *Limiter) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if !staleConn(err) || attempt >= maxStaleRetries || ctx.Err() != nil {
			return fmt.Errorf("throttle: %s: %w: %w", op, ErrUnavailable, err)
		}
	}
}

// retryAfter is res.RetryAfter, or one quota interval if throttled did not
// compute one (it does not when a single request exceeds the burst).
func retryAfter(res throttled.RateLimitResult, q Quota) time.Duration {
	if res.RetryAfter > 0 {
		return res.RetryAfter
	}
	return q.Interval()
}

// staleConn reports whether err means the connection was already closed by
// the server.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// accountName is the account's identity for counting: the lower-cased
// address user.NormalizeEmail makes the lookup key of, or, for text that is
// no valid address (no account can have it), the trimmed, lower-cased text.
func accountName(account string) string {
	if _, key, err := user.NormalizeEmail(account); err == nil {
		return key
	}
	return strings.ToLower(strings.TrimSpace(account))
}

// ipName is the client IP as counted: an IPv4 address (IPv4-mapped IPv6
// unmapped), or the /64 prefix of an IPv6 address. Text that is no IP (it
// should not happen: the server passes the address it parsed) is hashed so
// that a key never holds arbitrary client text.
func ipName(ip string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return "x" + digest(ip)[:32]
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// digest is the hex SHA-256 of parts joined by NUL bytes.
func digest(parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

var pathDB = regexp.MustCompile(`/(\d*)\z`)

// RedisDB returns the database index in a redis:// URL's path, as redigo's
// DialURL reads it ("redis://host:6379/2" → 2; no path → 0).
func RedisDB(rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, errors.New("throttle: redis url: not a URL")
	}
	if u.Path == "" {
		return 0, nil
	}
	m := pathDB.FindStringSubmatch(u.Path)
	if m == nil {
		return 0, fmt.Errorf("throttle: redis url: invalid database %q", strings.TrimPrefix(u.Path, "/"))
	}
	if m[1] == "" {
		return 0, nil
	}
	db, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, fmt.Errorf("throttle: redis url: invalid database %q", m[1])
	}
	return db, nil
}

// redisStore is throttled's redigostore with every operation's connection
// borrowed under the caller's context (redis.Pool.GetContext, not the Get
// that redigostore calls, which could wait without bound on a full pool)
// and every command bounded by that context.
type redisStore struct {
	pool   *redis.Pool
	prefix string
	db     int
}

var _ throttled.GCRAStoreCtx = redisStore{}

func (s redisStore) at(ctx context.Context) *redigostore.RedigoStore {
	st, _ := redigostore.New(ctxPool{s.pool, ctx}, s.prefix, s.db) // New never fails
	return st
}

func (s redisStore) GetWithTime(ctx context.Context, key string) (int64, time.Time, error) {
	return s.at(ctx).GetWithTime(key)
}

func (s redisStore) SetIfNotExistsWithTTL(ctx context.Context, key string, value int64, ttl time.Duration) (bool, error) {
	return s.at(ctx).SetIfNotExistsWithTTL(key, value, ttl)
}

func (s redisStore) CompareAndSwapWithTTL(ctx context.Context, key string, old, new int64, ttl time.Duration) (bool, error) {
	return s.at(ctx).CompareAndSwapWithTTL(key, old, new, ttl)
}

// ctxPool lends connections of pool bound to ctx (redigostore.RedigoPool).
type ctxPool struct {
	pool *redis.Pool
	ctx  context.Context
}

func (p ctxPool) Get() redis.Conn {
	c, err := p.pool.GetContext(p.ctx)
	if err != nil {
		return errConn{err}
	}
	return ctxConn{Conn: c, ctx: p.ctx}
}

// ctxConn runs Do and Receive under ctx (the pool's connections support it).
type ctxConn struct {
	redis.Conn
	ctx context.Context
}

func (c ctxConn) Do(cmd string, args ...any) (any, error) {
	return redis.DoContext(c.Conn, c.ctx, cmd, args...)
}

func (c ctxConn) Receive() (any, error) { return redis.ReceiveContext(c.Conn, c.ctx) }

// errConn is a connection that could not be borrowed: every call fails.
type errConn struct{ err error }

func (c errConn) Close() error                   { return nil }
func (c errConn) Err() error                     { return c.err }
func (c errConn) Do(string, ...any) (any, error) { return nil, c.err }
func (c errConn) Send(string, ...any) error      { return c.err }
func (c errConn) Flush() error                   { return c.err }
func (c errConn) Receive() (any, error)          { return nil, c.err }
