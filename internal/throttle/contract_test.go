package throttle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redisconn/clustertest"
	"github.com/latch/latch/internal/session/sessiontest"
)

// testQuotas are small enough to reach in a test: the account quota is the
// tightest across networks, the account+IP quota the tightest from one.
var testQuotas = Quotas{
	Account:   Quota{Count: 4, Period: 4 * time.Minute},  // one back every minute
	AccountIP: Quota{Count: 3, Period: 30 * time.Minute}, // one back every 10 minutes
	IP:        Quota{Count: 6, Period: 6 * time.Minute},  // one back every minute
	Register:  Quota{Count: 2, Period: time.Hour},
}

// env is one place a Limiter's state lives, for the contract tests.
type env struct {
	// newLimiter returns a limiter on the environment's shared state
	// (several calls: several instances).
	newLimiter func(q Quotas) *Limiter
	// advance moves time forward by d for the stored state.
	advance func(d time.Duration)
	// slack is how much less than computed a wait may be: Redis's clock
	// runs while the test does.
	slack time.Duration
}

// forEachBackend runs test on the memory store (on a fake clock) and on the
// test Redis under a prefix of its own (time moved by shifting the stored
// times back: the same state as after waiting, without sleeping).
func forEachBackend(t *testing.T, test func(t *testing.T, e env)) {
	t.Run("memory", func(t *testing.T) {
		c := clocktest.New(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
		var mem *memoryBackend
		test(t, env{
			newLimiter: func(q Quotas) *Limiter {
				if mem == nil {
					l, err := NewMemory(q, 0, c.Now)
					if err != nil {
						t.Fatal(err)
					}
					mem = l.b.(*memoryBackend)
					return l
				}
				return &Limiter{quotas: q, b: mem}
			},
			advance: c.Advance,
		})
	})
	t.Run("redis", func(t *testing.T) {
		pool := sessiontest.RedisPool(t)
		prefix := sessiontest.Prefix(t) + "t:"
		test(t, env{
			newLimiter: func(q Quotas) *Limiter { return newRedis(t, pool, prefix, q) },
			advance:    func(d time.Duration) { shiftBack(t, pool, prefix, d) },
			slack:      time.Second,
		})
	})
	t.Run("redis-cluster", func(t *testing.T) {
		src, _ := clustertest.Start(t)
		prefix := sessiontest.Prefix(t) + "t:"
		test(t, env{
			newLimiter: func(q Quotas) *Limiter {
				l, err := NewRedis(src, prefix, time.Minute, q)
				if err != nil {
					t.Fatal(err)
				}
				return l
			},
			advance: func(d time.Duration) { shiftBackCluster(t, src, prefix, d) },
			slack:   time.Second,
		})
	})
}

// shiftBackCluster is shiftBack on a cluster: one key per script, since
// the keys are in different slots.
func shiftBackCluster(t *testing.T, src *redisconn.Cluster, prefix string, d time.Duration) {
	t.Helper()
	for _, k := range clustertest.Keys(t, src, prefix) {
		conn, err := src.GetContext(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		_, err = shiftBackScript.Do(conn, 1, prefix+k, d.Microseconds())
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// newRedis returns a limiter on pool under prefix. Its timeout is long:
// the tests count answers, and a busy machine must not turn 200
// concurrent reservations into timeouts (TestRedisUnavailable tests the
// timeout).
func newRedis(t *testing.T, pool *redis.Pool, prefix string, q Quotas) *Limiter {
	t.Helper()
	l, err := NewRedis(pool, prefix, time.Minute, q)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// shiftBackScript moves the stored state of KEYS back by ARGV[1] µs: each
// TAT is lowered and each expiry brought forward, as if that time had
// passed. Sampling keys (value "1") only have their expiry moved.
var shiftBackScript = redis.NewScript(-1, `
local d = tonumber(ARGV[1])
for _, k in ipairs(KEYS) do
  local ttl = redis.call('PTTL', k)
  local left = ttl - math.floor(d / 1000)
  if ttl < 0 or left <= 0 then
    redis.call('DEL', k)
  else
    local v = redis.call('GET', k)
    if v ~= '1' then v = string.format('%.0f', tonumber(v) - d) end
    redis.call('SET', k, v, 'PX', left)
  end
end
return 0
`)

func shiftBack(t *testing.T, pool *redis.Pool, prefix string, d time.Duration) {
	t.Helper()
	keys := sessiontest.RedisKeys(t, pool, prefix)
	if len(keys) == 0 {
		return
	}
	args := []any{len(keys)}
	for _, k := range keys {
		args = append(args, prefix+k)
	}
	conn := pool.Get()
	defer conn.Close()
	if _, err := shiftBackScript.Do(conn, append(args, d.Microseconds())...); err != nil {
		t.Fatal(err)
	}
}

// reserve reserves a login attempt and fails the test on error.
func reserve(t *testing.T, l *Limiter, account, ip string) Reservation {
	t.Helper()
	r, err := l.ReserveLogin(t.Context(), account, ip, false)
	if err != nil {
		t.Fatalf("ReserveLogin(%q, %q): %v", account, ip, err)
	}
	return r
}

// fail reserves n attempts that all fail (none refunded); each must be accepted.
func fail(t *testing.T, l *Limiter, account, ip string, n int) {
	t.Helper()
	for i := range n {
		if r := reserve(t, l, account, ip); r.Limited() {
			t.Fatalf("attempt %d of %d for %q from %q refused: %+v", i+1, n, account, ip, r.Verdict)
		}
	}
}

// wantRefused checks that the next attempt is refused by scope with a wait
// of about want.
func wantRefused(t *testing.T, e env, l *Limiter, account, ip string, scope Scope, want time.Duration, what string) Reservation {
	t.Helper()
	r := reserve(t, l, account, ip)
	if r.Scope != scope || r.RetryAfter > want || r.RetryAfter <= want-e.slack-time.Microsecond || len(r.slots) != 0 {
		t.Fatalf("%s: %+v, want refused by %s for %v", what, r.Verdict, scope, want)
	}
	return r
}

func TestLimiterContract(t *testing.T) {
	const bob, ipA, ipB = "bob@example.com", "198.51.100.7", "203.0.113.5"

	forEachBackend(t, func(t *testing.T, e env) {
		t.Run("account+IP quota, refusals not counted, then it refills", func(t *testing.T) {
			l := e.newLimiter(testQuotas)
			fail(t, l, bob, ipA, 3)
			for range 20 { // hammering neither counts nor extends the wait
				wantRefused(t, e, l, bob, ipA, ScopeAccountIP, 10*time.Minute, "after 3 failures")
			}
			if r := reserve(t, l, bob, ipB); r.Limited() {
				t.Errorf("another network is limited by the account+IP quota: %+v", r.Verdict)
			}
			e.advance(10*time.Minute - 2*time.Second)
			wantRefused(t, e, l, bob, ipA, ScopeAccountIP, 2*time.Second, "two seconds early")
			e.advance(2 * time.Second)
			fail(t, l, bob, ipA, 1) // no permanent lockout
			wantRefused(t, e, l, bob, ipA, ScopeAccountIP, 10*time.Minute, "one more failure")
		})

		t.Run("account quota across networks, and its exemption", func(t *testing.T) {
			l := e.newLimiter(testQuotas)
			const carol = "carol@example.com"
			fail(t, l, carol, "192.0.2.1", 2)
			fail(t, l, carol, "192.0.2.2", 2)
			wantRefused(t, e, l, carol, ipB, ScopeAccount, time.Minute, "a third network")
			if r := reserve(t, l, "alice@example.com", ipB); r.Limited() {
				t.Errorf("another account is limited: %+v", r.Verdict)
			}
			r, err := l.ReserveLogin(t.Context(), carol, ipB, true)
			if err != nil || r.Limited() {
				t.Fatalf("reservation with the account quota exempt: %+v, %v", r.Verdict, err)
			}
			for _, s := range r.slots {
				if s.scope == ScopeAccount {
					t.Errorf("an exempt reservation counted the account quota")
				}
			}
			e.advance(time.Minute)
			fail(t, l, carol, ipB, 1)
		})

		t.Run("IP quota is reported first, with the longest wait", func(t *testing.T) {
			l := e.newLimiter(testQuotas)
			const ip = "198.51.100.20"
			for i := range 3 {
				fail(t, l, fmt.Sprintf("u%d@example.com", i), ip, 1)
			}
			fail(t, l, "dave@example.com", ip, 3) // account+IP of dave now full too
			// IP: 6 used, next one back in 1 minute; dave's account+IP: 10 minutes.
			wantRefused(t, e, l, "dave@example.com", ip, ScopeIP, 10*time.Minute, "both ip and account+ip full")
			wantRefused(t, e, l, "zed@example.com", ip, ScopeIP, time.Minute, "another account from the network")
			if r := reserve(t, l, "zed@example.com", ipB); r.Limited() {
				t.Errorf("another network is limited: %+v", r.Verdict)
			}
		})

		t.Run("the same address however typed, IPv6 per /64", func(t *testing.T) {
			l := e.newLimiter(testQuotas)
			fail(t, l, "Erin@Example.COM", "2001:db8:1:2::1", 1)
			fail(t, l, " erin@example.com", "2001:db8:1:2::2", 1)
			fail(t, l, "erin@example.com", "2001:db8:1:2:ffff::3", 1)
			wantRefused(t, e, l, "ERIN@example.com", "2001:db8:1:2:abcd::9", ScopeAccountIP, 10*time.Minute, "one /64, one address")
			if r := reserve(t, l, "erin@example.com", "2001:db8:1:3::1"); r.Limited() {
				t.Errorf("another /64 is limited: %+v", r.Verdict)
			}
		})

		t.Run("a refunded attempt counts for nothing", func(t *testing.T) {
			l := e.newLimiter(testQuotas)
			const frank = "frank@example.com"
			for range 10 {
				r := reserve(t, l, frank, ipA)
				if r.Limited() {
					t.Fatalf("refunded attempts were counted: %+v", r.Verdict)
				}
				if err := l.Refund(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			fail(t, l, frank, ipA, 3)
			wantRefused(t, e, l, frank, ipA, ScopeAccountIP, 10*time.Minute, "3 failures after 10 refunded successes")
			if err := l.Refund(t.Context(), Reservation{}); err != nil {
				t.Errorf("refunding an empty reservation: %v", err)
			}
		})

		t.Run("refused attempts audited once a minute", func(t *testing.T) {
			l := e.newLimiter(testQuotas)
			const gina = "gina@example.com"
			fail(t, l, gina, ipA, 3)
			var got []bool
			for _, step := range []time.Duration{0, time.Second, 57 * time.Second, 2 * time.Second, 0} {
				e.advance(step)
				got = append(got, reserve(t, l, gina, ipA).Audit)
			}
			if want := []bool{true, false, false, true, false}; !slices.Equal(got, want) {
				t.Errorf("Audit of refusals over a minute = %v, want %v", got, want)
			}
			if reserve(t, l, gina, ipB).Audit {
				t.Error("an accepted attempt is marked for audit")
			}
		})

		t.Run("registration", func(t *testing.T) {
			l := e.newLimiter(testQuotas)
			const ip = "198.51.100.30"
			for i := range 2 {
				if v, err := l.Register(t.Context(), ip); err != nil || v.Limited() {
					t.Fatalf("registration %d: %+v, %v", i+1, v, err)
				}
			}
			for range 5 { // refused attempts are not counted
				v, err := l.Register(t.Context(), ip)
				if err != nil || v.Scope != ScopeRegister || v.RetryAfter > 30*time.Minute || v.RetryAfter <= 30*time.Minute-e.slack-time.Microsecond {
					t.Fatalf("third registration: %+v, %v; want register for 30m", v, err)
				}
			}
			if v, err := l.Register(t.Context(), ipB); err != nil || v.Limited() {
				t.Errorf("another network: %+v, %v", v, err)
			}
			e.advance(30 * time.Minute)
			if v, err := l.Register(t.Context(), ip); err != nil || v.Limited() {
				t.Errorf("after 30m: %+v, %v", v, err)
			}
		})

		t.Run("off quotas never limit", func(t *testing.T) {
			l := e.newLimiter(Quotas{})
			fail(t, l, "hal@example.com", ipA, 100)
			if v, err := l.Register(t.Context(), ipA); err != nil || v.Limited() {
				t.Errorf("registration limited with every quota off: %+v, %v", v, err)
			}
		})

		t.Run("two instances share the state", func(t *testing.T) {
			a, b := e.newLimiter(testQuotas), e.newLimiter(testQuotas)
			const ivy = "Ivy@Example.com"
			fail(t, a, ivy, ipA, 2)
			fail(t, b, ivy, ipA, 1)
			wantRefused(t, e, a, ivy, ipA, ScopeAccountIP, 10*time.Minute, "instance A after 3 failures over A and B")
			wantRefused(t, e, b, ivy, ipA, ScopeAccountIP, 10*time.Minute, "instance B after 3 failures over A and B")
		})
	})
}

// TestConcurrentReservationsNeverExceedTheQuota is the regression test of
// issue 12 item 1 at the limiter: 200 goroutines over two limiters (two
// instances) reserve attempts at once; exactly the quota is accepted.
// TestZonesShareOneBucket: a zone ("%z1") is text the client chooses, and
// an address with any zone, mapped or not, is counted as the address, so
// varying it does not buy more attempts; neither does varying text that is
// no address at all.
func TestZonesShareOneBucket(t *testing.T) {
	const bob = "bob@example.com"
	forEachBackend(t, func(t *testing.T, e env) {
		l := e.newLimiter(testQuotas) // account+IP: 3 per 30 minutes
		fail(t, l, bob, "10.3.3.3%z1", 1)
		fail(t, l, bob, "::ffff:10.3.3.3%z2", 1)
		fail(t, l, bob, "10.3.3.3", 1)
		for i, ip := range []string{"10.3.3.3%z3", "::ffff:10.3.3.3", "10.3.3.3%q10"} {
			wantRefused(t, e, l, bob, ip, ScopeAccountIP, 10*time.Minute, fmt.Sprintf("zone variant %d", i))
		}
		const carol = "carol@example.com" // bob has used up his account quota
		fail(t, l, carol, "junk 1", 3)
		wantRefused(t, e, l, carol, "junk 2", ScopeAccountIP, 10*time.Minute, "other junk")
	})
}

func TestConcurrentReservationsNeverExceedTheQuota(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e env) {
		for _, tc := range []struct {
			name  string
			ipOf  func(int) string
			quota int
		}{
			{"one network", func(int) string { return "198.51.100.7" }, testQuotas.AccountIP.Count},
			{"200 networks", func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }, testQuotas.Account.Count},
		} {
			t.Run(tc.name, func(t *testing.T) {
				account := "victim-" + strings.ReplaceAll(tc.name, " ", "-") + "@example.com"
				instances := []*Limiter{e.newLimiter(testQuotas), e.newLimiter(testQuotas)}
				var accepted, refused atomic.Int64
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range 200 {
					wg.Go(func() {
						<-start
						r, err := instances[i%2].ReserveLogin(context.Background(), account, tc.ipOf(i), false)
						switch {
						case err != nil:
							t.Error(err)
						case r.Limited():
							refused.Add(1)
						default:
							accepted.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if accepted.Load() != int64(tc.quota) || refused.Load() != int64(200-tc.quota) {
					t.Errorf("200 concurrent reservations: %d accepted, %d refused; want %d and %d",
						accepted.Load(), refused.Load(), tc.quota, 200-tc.quota)
				}
			})
		}
	})
}

// TestRedisKeysHoldNoEmail: no Redis key names the account's address.
func TestRedisKeysHoldNoEmail(t *testing.T) {
	pool := sessiontest.RedisPool(t)
	prefix := sessiontest.Prefix(t) + "t:"
	l := newRedis(t, pool, prefix, testQuotas)
	fail(t, l, "Bob@Example.com", "198.51.100.7", 3)
	reserve(t, l, "Bob@Example.com", "198.51.100.7") // refused: the sampling key
	keys := sessiontest.RedisKeys(t, pool, prefix)
	if len(keys) != 4 {
		t.Errorf("keys = %q, want 3 quota keys and 1 sampling key", keys)
	}
	for _, k := range keys {
		if strings.Contains(strings.ToLower(k), "bob") || strings.Contains(k, "@") {
			t.Errorf("Redis key %q holds the email address", k)
		}
	}
}

// TestRedisRoundTrips counts the commands of each step: one script call
// each (issue 7: a failed login is one round trip, a refused one too, and
// a refund one more), and never a SELECT.
func TestRedisRoundTrips(t *testing.T) {
	pool, counter := sessiontest.CountingPool(t)
	l := newRedis(t, pool, sessiontest.Prefix(t)+"t:", testQuotas)
	const bob, ip = "bob@example.com", "198.51.100.7"
	step := func(what string, fn func() error) {
		t.Helper()
		counter.Reset()
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		if got := counter.Commands(); !slices.Equal(got, []string{"EVALSHA"}) {
			t.Errorf("%s sent %q, want one EVALSHA", what, got)
		}
	}
	// Load both scripts first (a fresh Redis answers NOSCRIPT once: EVAL).
	r := reserve(t, l, "warm@example.com", ip)
	if err := l.Refund(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	step("an accepted reservation", func() error { r = reserve(t, l, bob, ip); return nil })
	step("a refund", func() error { return l.Refund(t.Context(), r) })
	fail(t, l, bob, ip, 3)
	step("a refused reservation (with its audit sampling)", func() error {
		if r := reserve(t, l, bob, ip); !r.Limited() || !r.Audit {
			return fmt.Errorf("want refused and audited, got %+v", r)
		}
		return nil
	})
	step("a registration", func() error { _, err := l.Register(t.Context(), ip); return err })
}

// TestRedisUnavailable: with nothing listening, and with a Redis that never
// answers, every operation fails with ErrUnavailable; the stalled one
// because its one timeout ran out (context.DeadlineExceeded, or
// os.ErrDeadlineExceeded when the connection's read deadline, set from the
// context, fires first). No wall-clock assertion: the error says why.
func TestRedisUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	stalled, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.Close() })
	var conns []net.Conn
	var mu sync.Mutex
	go func() { // accept and never answer
		for {
			c, err := stalled.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	for _, tc := range []struct {
		name     string
		addr     string
		deadline bool
	}{
		{"nothing listening", closedAddr, false},
		{"never answers", stalled.Addr().String(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := &redis.Pool{DialContext: func(ctx context.Context) (redis.Conn, error) {
				return redis.DialContext(ctx, "tcp", tc.addr)
			}}
			defer pool.Close()
			l, err := NewRedis(pool, "x:", 100*time.Millisecond, testQuotas)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("%s: %v, want ErrUnavailable", what, err)
				}
				if tc.deadline && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("%s: %v, want it to wrap a deadline error (the one timeout ran out)", what, err)
				}
			}
			_, err = l.ReserveLogin(t.Context(), "bob@example.com", "192.0.2.1", false)
			check("ReserveLogin", err)
			_, err = l.Register(t.Context(), "192.0.2.1")
			check("Register", err)
			check("Refund", l.Refund(t.Context(), Reservation{slots: []slot{{"k", testQuotas.Account, ScopeAccount}}}))
		})
	}
}

// TestMemoryBounded: the memory store never holds more than maxKeys keys.
func TestMemoryBounded(t *testing.T) {
	l, err := NewMemory(testQuotas, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		reserve(t, l, fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("192.0.2.%d", i))
	}
	if n := l.b.(*memoryBackend).keys.Len(); n > 8 {
		t.Errorf("memory store holds %d keys, want at most 8", n)
	}
}
