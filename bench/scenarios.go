package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/crypto/argon2"

	"github.com/latch/latch/internal/password"
)

// bench holds a prepared run: servers up, databases seeded, users signed in.
type bench struct {
	o         options
	e         *env
	sz        sizes
	ref       *server
	sqlite    *server // Latch on Redis + SQLite, default throttling
	pg        *server // Latch on Redis + PostgreSQL, default throttling
	open      *server // latch-sqlite's stores, throttling off
	lightPath string
}

// measured accumulates one scenario over its rounds.
type measured struct {
	srv      *server
	name     string
	path     string
	email    string // whose session
	res      *loadResult
	redis    int64
	redisMix map[string]int64
	sql      *float64 // nil once a scrape lacked the metric
	conns    *float64
	rssKiB   int64
	// expectFail marks rows whose normal answer is not a success (failed
	// logins): req/s counts every answer and failures are not errors.
	expectFail bool
	// loadConns is the row's number of connections when not the run's
	// (the admin pages: a few administrators, not 64 readers).
	loadConns int
}

func newMeasured(srv *server, name, path, email string) *measured {
	return &measured{srv: srv, name: name, path: path, email: email, res: newLoadResult(),
		redisMix: map[string]int64{}, sql: ptr(0.0), conns: ptr(0.0)}
}

// counters is a snapshot of what a server has done so far.
type counters struct {
	redis   map[string]int64
	metrics map[string]float64
}

func (b *bench) snapshot(ctx context.Context, s *server) counters {
	stats, err := commandStats(ctx, s.redisURL)
	if err != nil {
		b.e.logf("%s: %v", s.label, err)
	}
	return counters{redis: stats, metrics: scrape(ctx, s.metrics, metricStatements, metricConnsOpened, metricMaxOpenConns)}
}

// addDelta adds what happened between c0 and c1 to m.
func (m *measured) addDelta(c0, c1 counters) {
	total, per := statsDelta(c0.redis, c1.redis)
	m.redis += total
	for k, v := range per {
		m.redisMix[k] += v
	}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{metricStatements, &m.sql}, {metricConnsOpened, &m.conns}} {
		v0, ok0 := c0.metrics[f.name]
		v1, ok1 := c1.metrics[f.name]
		if !ok0 || !ok1 || *f.dst == nil {
			*f.dst = nil
			continue
		}
		**f.dst += v1 - v0
	}
}

// round runs one closed-loop round of m for d and records its counters.
func (b *bench) round(ctx context.Context, m *measured, d time.Duration, record bool) {
	tgt := getTarget(m.srv.base, m.path, m.srv.cookies[m.email])
	conns := cmp.Or(m.loadConns, b.o.conns)
	if !record {
		b.attack(ctx, m.srv.label+" warm-up", conns, d, 0, tgt, newLoadResult())
		return
	}
	c0 := b.snapshot(ctx, m.srv)
	b.attack(ctx, m.srv.label+" "+m.name, conns, d, 0, tgt, m.res)
	c1 := b.snapshot(ctx, m.srv)
	m.addDelta(c0, c1)
	m.rssKiB = max(m.rssKiB, readMemory(m.srv.proc.cmd.Process.Pid).RSSKiB)
	b.settle(ctx, m.srv)
}

// settle waits (at most 3 s, to keep the run's length bounded) until s
// has stopped using CPU: requests the load generator gave up on may still
// be running inside the server (a query that outlives its client), and
// they should not be billed to the next server's round.
func (b *bench) settle(ctx context.Context, s *server) {
	pid := s.proc.cmd.Process.Pid
	err := poll(ctx, 3*time.Second, func() error {
		t0 := cpuTicks(pid)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		// 100 ticks a second: more than 4 ticks in 200 ms is over 20% of a core.
		if d := cpuTicks(pid) - t0; d > 4 {
			return fmt.Errorf("still busy (%d ticks in 200 ms)", d)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		b.e.logf("%s: %v", s.label, err)
	}
}

// row turns m into a table row (without ratio or targets).
func (m *measured) row() row {
	r := row{Server: m.srv.label, Scenario: m.name, Requests: m.res.Requests, ReqPerSec: m.res.rate(),
		Errors: m.res.Errors, Status5xx: m.res.Status5xx, Codes: m.res.Codes}
	if m.expectFail {
		r.ReqPerSec, r.Errors = m.res.answerRate(), 0
	} else if m.res.Errors > 0 {
		r.Note = "errors: " + m.res.errorSummary()
	}
	if m.res.Requests > 0 {
		n := float64(m.res.Requests)
		r.P50ms = ptr(ms(m.res.quantile(0.5)))
		r.P99ms = ptr(ms(m.res.quantile(0.99)))
		r.Redis, r.RedisKind, r.RedisMix = ptr(float64(m.redis)/n), "cmds", m.redisMix
		if m.sql != nil {
			r.SQLPerReq = ptr(*m.sql / n)
		}
		r.DBConns = m.conns
	}
	if m.rssKiB > 0 {
		r.RSSMiB = ptr(float64(m.rssKiB) / 1024)
	}
	r.PeakMiB = peakMiB(m.srv)
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func peakMiB(s *server) *float64 {
	if s.proc == nil || s.proc.exited() {
		return nil
	}
	if mem := readMemory(s.proc.cmd.Process.Pid); mem.PeakKiB > 0 {
		return ptr(float64(mem.PeakKiB) / 1024)
	}
	return nil
}

func ratio(a, b float64) *float64 {
	if b <= 0 || a < 0 {
		return nil
	}
	return ptr(a / b)
}

// measure runs every scenario and returns the table. It stops early (with
// the rows measured so far) when ctx ends.
func (b *bench) measure(ctx context.Context) []row {
	rows, refRate := b.interleaved(ctx)
	for _, phase := range []func(context.Context, float64) []row{b.steadyRuns, b.roundTrips, b.loginThroughput, b.loginFlood} {
		if ctx.Err() != nil {
			break
		}
		rows = append(rows, phase(ctx, refRate)...)
	}
	return rows
}

// backendPair is one scenario on both Latch servers.
type backendPair struct{ sqlite, pg *measured }

// interleaved measures the page views that are compared with each other:
// after a warm-up of every scenario, o.rounds rounds in which every server
// and page gets o.round of closed-loop load, in an order that rotates from
// round to round. A slow spell of the machine (five people share its two
// cores) then spreads over all of them instead of hitting one, and each
// ratio is between numbers taken side by side. It returns the rows and the
// reference's req/s, which later rows are compared with.
//
// What each scenario shows:
//   - reference: the floor (net/http + one Redis GET + the same bytes);
//   - the light page: what the session middleware and a template cost, with
//     no data but the session (target ≥ 0.85× reference, 0 SQL);
//   - /profile: the page with activity and sign-ins (≥ 0.6× reference);
//   - /profile of a user with sz.HeavyEvents events among sz.Events, next
//     to one with an empty history: a cost that grows with history (or an
//     index walk that is worst when the user has nothing) shows here
//     (within 10% of each other);
//   - the admin sessions list over sz.Sessions sessions and the audit log
//     over sz.Events events: p99 < 50 ms, with o.adminConns connections
//     (default 4: a few administrators at work, not 64 readers, whose
//     queueing would measure the CPU's capacity rather than the page).
func (b *bench) interleaved(ctx context.Context) ([]row, float64) {
	ref := newMeasured(b.ref, "GET session page", "/page", readerEmail)
	both := func(name, path, email string) backendPair {
		return backendPair{newMeasured(b.sqlite, name, path, email), newMeasured(b.pg, name, path, email)}
	}
	light := both("GET "+b.lightPath+" (light)", b.lightPath, readerEmail)
	profile := both("GET /profile", "/profile", readerEmail)
	empty := both("GET /profile, empty history", "/profile", emptyEmail)
	heavy := both(fmt.Sprintf("GET /profile, %d of %d events", b.sz.HeavyEvents, b.sz.Events), "/profile", heavyEmail)
	adminSessions := both(fmt.Sprintf("GET /admin/sessions (%d), %d conns", b.sz.Sessions, b.o.adminConns), "/admin/sessions", adminEmail)
	adminAudit := both(fmt.Sprintf("GET /admin/audit (%d), %d conns", b.sz.Events, b.o.adminConns), "/admin/audit", adminEmail)
	for _, m := range []*measured{adminSessions.sqlite, adminSessions.pg, adminAudit.sqlite, adminAudit.pg} {
		m.loadConns = b.o.adminConns
	}
	all := []*measured{ref}
	for _, p := range []backendPair{light, profile, empty, heavy, adminSessions, adminAudit} {
		all = append(all, p.sqlite, p.pg)
	}

	b.e.logf("warm-up: %v per scenario, %d scenarios", b.o.warmup, len(all))
	for _, m := range all {
		if ctx.Err() != nil {
			break
		}
		b.round(ctx, m, b.o.warmup, false)
	}
	for r := range b.o.rounds {
		b.e.logf("round %d/%d: %v per scenario", r+1, b.o.rounds, b.o.round)
		for i := range all {
			if ctx.Err() != nil {
				break
			}
			b.round(ctx, all[(i+r*5)%len(all)], b.o.round, true)
		}
	}

	refRow := ref.row()
	refRow.Note = "net/http + one redigo GET + a page as long as /profile: the floor for a Redis-backed session"
	refRate := refRow.ReqPerSec
	rows := []row{refRow}
	vsRef := func(m *measured) row {
		r := m.row()
		r.Ratio, r.RatioTo = ratio(r.ReqPerSec, refRate), "reference"
		return r
	}
	for _, m := range []*measured{light.sqlite, light.pg} {
		r := vsRef(m)
		r.Targets = []target{
			check("≥ 0.85× ref", r.Ratio, func(v float64) bool { return v >= 0.85 }),
			check("0 SQL/req", r.SQLPerReq, func(v float64) bool { return v == 0 }),
		}
		rows = append(rows, r)
	}
	for _, m := range []*measured{profile.sqlite, profile.pg} {
		r := vsRef(m)
		r.Targets = []target{check("≥ 0.6× ref", r.Ratio, func(v float64) bool { return v >= 0.6 })}
		rows = append(rows, r)
	}
	for _, p := range []struct{ empty, heavy *measured }{{empty.sqlite, heavy.sqlite}, {empty.pg, heavy.pg}} {
		er := vsRef(p.empty)
		hr := p.heavy.row()
		hr.Ratio, hr.RatioTo = ratio(hr.ReqPerSec, er.ReqPerSec), "empty history"
		hr.Targets = []target{check("within 10% of empty", hr.Ratio, func(v float64) bool { return v >= 0.9 && v <= 1/0.9 })}
		if hr.Ratio == nil && er.Requests > 0 && hr.ReqPerSec > 0 {
			// The empty history answered nothing in time: infinitely apart.
			hr.Targets[0].Met = ptr(false)
		}
		rows = append(rows, er, hr)
	}
	for _, m := range []*measured{adminSessions.sqlite, adminSessions.pg, adminAudit.sqlite, adminAudit.pg} {
		r := vsRef(m)
		r.Targets = []target{check("p99 < 50 ms", r.P99ms, func(v float64) bool { return v < 50 })}
		rows = append(rows, r)
	}
	return rows, refRate
}

// steadyRuns counts the database connections each Latch opens during
// o.steady of /profile after the warm-up (the interleaved rounds). A pool
// that keeps enough idle connections opens none; database/sql's default
// (2 idle) opens and closes them all the time under 64 concurrent requests,
// and on PostgreSQL each is a new server process. Target: no more than the
// pool size (latch_db_max_open_connections).
func (b *bench) steadyRuns(ctx context.Context, refRate float64) []row {
	var rows []row
	for _, s := range []*server{b.sqlite, b.pg} {
		if ctx.Err() != nil {
			break
		}
		b.e.logf("%s: steady run, %v of /profile", s.label, b.o.steady)
		m := newMeasured(s, fmt.Sprintf("steady %v GET /profile", b.o.steady), "/profile", readerEmail)
		b.round(ctx, m, b.o.steady, true)
		r := m.row()
		r.Ratio, r.RatioTo = ratio(r.ReqPerSec, refRate), "reference"
		if v, ok := scrape(ctx, s.metrics, metricMaxOpenConns)[metricMaxOpenConns]; ok {
			r.PoolSize = ptr(v)
		} else if n, err := strconv.Atoi(b.o.dbMaxConns); err == nil {
			r.PoolSize = ptr(float64(n)) // what -db-max-conns set
		}
		t := target{Goal: "DB conns ≤ pool"}
		if r.PoolSize != nil && r.DBConns != nil {
			t.Met = ptr(*r.DBConns <= *r.PoolSize)
		}
		r.Targets = []target{t}
		rows = append(rows, r)
	}
	return rows
}

// roundTrips counts Redis round trips with MONITOR (the commands clients
// send, not the ones Lua scripts run inside Redis) on each Latch:
//   - per signed-in GET of the light page over 10,000 requests, one session
//     per connection, idle refreshes included (target ≤ 1.05, and 0 SQL);
//   - per successful and per failed login, one at a time, each a distinct
//     account, default throttling (targets ≤ 3): the throttle's check and
//     count are most of a login's Redis traffic.
func (b *bench) roundTrips(ctx context.Context, _ float64) []row {
	nGET, nLogin := uint64(10_000), 20
	if b.o.quick {
		nGET, nLogin = 2_000, 10
	}
	var rows []row
	for _, s := range []*server{b.sqlite, b.pg} {
		if ctx.Err() != nil {
			break
		}
		b.e.logf("%s: Redis round trips over %d GETs, %d logins, %d failed logins", s.label, nGET, nLogin, nLogin)
		r := b.countTrips(ctx, s, fmt.Sprintf("%d × GET %s: Redis round trips", nGET, b.lightPath), b.o.conns, nGET,
			rotatingTarget(s.base, b.lightPath, s.tripCookies), false)
		r.Targets = []target{check("≤ 1.05 rt/GET", r.Redis, func(v float64) bool { return v <= 1.05 }),
			check("0 SQL/req", r.SQLPerReq, func(v float64) bool { return v == 0 })}
		r.Note = fmt.Sprintf("%d sessions (one per connection) signed in at set-up; with the default LATCH_IDLE_TIMEOUT each refreshes at most once a minute", len(s.tripCookies))
		rows = append(rows, r)

		accounts := func(offset uint64) func(uint64) string {
			return func(i uint64) string { return bulkEmail(int((offset+i)%uint64(s.seed.BulkUsers)) + 1) }
		}
		r = b.countTrips(ctx, s, "POST /login, success: Redis round trips", 1, uint64(nLogin),
			loginTarget(s.base, accounts(0), benchPassword), false)
		r.Targets = []target{check("≤ 3 rt/login", r.Redis, func(v float64) bool { return v <= 3 })}
		r.Note = "default throttling; each login a distinct account, no session cookie presented"
		rows = append(rows, r)
		r = b.countTrips(ctx, s, "POST /login, failure: Redis round trips", 1, uint64(nLogin),
			loginTarget(s.base, accounts(uint64(nLogin)), "wrong password, not this one"), true)
		r.Targets = []target{check("≤ 3 rt/login", r.Redis, func(v float64) bool { return v <= 3 })}
		r.Note = "default throttling; each a distinct account (answered 401 as expected, not counted as errors)"
		rows = append(rows, r)
	}
	return rows
}

// countTrips sends limit requests of tgt to s with conns connections (at
// most 60 s) while MONITOR counts the commands Latch sends to its Redis.
// expectFail: the requests are meant to fail (see measured.expectFail).
func (b *bench) countTrips(ctx context.Context, s *server, name string, conns int, limit uint64, tgt vegeta.Targeter, expectFail bool) row {
	m := newMeasured(s, name, "", "")
	mon, err := startMonitor(ctx, s.redisURL)
	if err != nil {
		r := m.row()
		r.Note = err.Error()
		return r
	}
	m.expectFail = expectFail
	c0 := b.snapshot(ctx, s)
	b.attack(ctx, s.label+" "+name, conns, time.Minute, limit, tgt, m.res)
	c1 := b.snapshot(ctx, s)
	m.addDelta(c0, c1)
	m.rssKiB = readMemory(s.proc.cmd.Process.Pid).RSSKiB
	trips, mix, err := mon.stop(ctx)
	r := m.row()
	if err != nil {
		r.Redis, r.Note = nil, err.Error()
		return r
	}
	if m.res.Requests > 0 {
		r.Redis, r.RedisKind, r.RedisMix = ptr(float64(trips)/float64(m.res.Requests)), "trips", mix
	}
	return r
}

// loginThroughput compares successful logins per second on
// latch-sqlite-open (throttling off, so nothing is refused; each login a
// distinct account; 2 × NumCPU connections so the hashing slots never wait
// on the network) with raw argon2id hashes per second in this process at
// Latch's default cost (19456 KiB, 2 passes, 1 lane; NumCPU goroutines).
// A login costs one hash; the rest of the request should be small next to
// it (target ≥ 0.9×). The two alternate in short slices (o.rounds pairs)
// so that a change in the machine's load hits both alike.
func (b *bench) loginThroughput(ctx context.Context, _ float64) []row {
	d := 10 * time.Second
	if b.o.quick {
		d = 3 * time.Second
	}
	slice := d / time.Duration(b.o.rounds)
	p := password.DefaultParams()
	s := b.open
	b.e.logf("raw argon2id (m=%d KiB, t=%d, p=%d, %d goroutines) and %s logins: %d × %v each, alternating",
		p.Memory, p.Iterations, p.Parallelism, runtime.NumCPU(), s.label, b.o.rounds, slice)
	m := newMeasured(s, "POST /login, success (throttling off)", "", "")
	offset := uint64(1000)
	tgt := loginTarget(s.base, func(i uint64) string { return bulkEmail(int((offset+i)%uint64(s.seed.BulkUsers)) + 1) }, benchPassword)
	var hashes int64
	var hashTime time.Duration
	for range b.o.rounds {
		if ctx.Err() != nil {
			break
		}
		n, el := rawHashes(ctx, p, slice)
		hashes, hashTime = hashes+n, hashTime+el
		c0 := b.snapshot(ctx, s)
		b.attack(ctx, s.label+" logins", 2*runtime.NumCPU(), slice, 0, tgt, m.res)
		c1 := b.snapshot(ctx, s)
		m.addDelta(c0, c1)
		m.rssKiB = max(m.rssKiB, readMemory(s.proc.cmd.Process.Pid).RSSKiB)
	}
	hashRate := 0.0
	if hashTime > 0 {
		hashRate = float64(hashes) / hashTime.Seconds()
	}
	raw := row{Server: "argon2id (in-process)", Scenario: "raw hashes", Requests: uint64(hashes), ReqPerSec: hashRate,
		Note: fmt.Sprintf("golang.org/x/crypto/argon2 IDKey, m=%d KiB t=%d p=%d, %d goroutines", p.Memory, p.Iterations, p.Parallelism, runtime.NumCPU())}
	r := m.row()
	r.Ratio, r.RatioTo = ratio(r.ReqPerSec, hashRate), "raw argon2id"
	r.Targets = []target{check("≥ 0.9× raw hashes", r.Ratio, func(v float64) bool { return v >= 0.9 })}
	r.Note = "LATCH_THROTTLE_ACCOUNT, _ACCOUNT_IP and _IP = off for this server only; distinct accounts"
	return []row{raw, r}
}

// rawHashes runs argon2id with p on NumCPU goroutines for d and returns
// how many hashes finished and the wall time they took.
func rawHashes(ctx context.Context, p password.Params, d time.Duration) (int64, time.Duration) {
	var hashes atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			salt := make([]byte, p.SaltLen)
			rand.Read(salt)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				argon2.IDKey([]byte(benchPassword), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
				hashes.Add(1)
			}
		})
	}
	wg.Wait()
	return hashes.Load(), time.Since(start)
}

// loginFlood runs 200 connections of failed logins (distinct accounts,
// throttling off, so each costs a full hash) against latch-sqlite-open
// while o.conns connections read /profile, and judges the readers.
func (b *bench) loginFlood(ctx context.Context, _ float64) []row {
	d := 15 * time.Second
	if b.o.quick {
		d = 4 * time.Second
	}
	s := b.open
	b.e.logf("%s: 200 connections of POST /login next to %d of GET /profile, %v", s.label, b.o.conns, d)
	readers := newMeasured(s, "GET /profile during 200-conn login flood", "/profile", readerEmail)
	flood := newMeasured(s, "the login flood (wrong passwords)", "", "")
	flood.expectFail = true
	offset := uint64(5000)
	floodTgt := loginTarget(s.base, func(i uint64) string { return bulkEmail(int((offset+i)%uint64(s.seed.BulkUsers)) + 1) },
		"wrong password, not this one")
	c0 := b.snapshot(ctx, s)
	var wg sync.WaitGroup
	wg.Go(func() { b.attack(ctx, s.label+" flood", 200, d, 0, floodTgt, flood.res) })
	wg.Go(func() {
		b.attack(ctx, s.label+" readers", b.o.conns, d, 0, getTarget(s.base, "/profile", s.cookies[readerEmail]), readers.res)
	})
	wg.Wait()
	c1 := b.snapshot(ctx, s)
	mem := readMemory(s.proc.cmd.Process.Pid)
	readers.rssKiB, flood.rssKiB = mem.RSSKiB, mem.RSSKiB
	// Both ran at once: the counters cover both, so show them on the flood row.
	flood.addDelta(c0, c1)
	fr := flood.row()
	fr.Note = fmt.Sprintf("answers by status %v; ", flood.res.Codes) + "401 and 503 (all hashing slots busy) are this row's expected answers; Redis/SQL counters cover both rows"
	rr := readers.row()
	rr.Redis, rr.RedisMix, rr.SQLPerReq, rr.DBConns = nil, nil, nil, nil
	peak := func(v float64) bool { return v < 512 }
	rr.Targets = []target{
		check("p99 < 100 ms", rr.P99ms, func(v float64) bool { return v < 100 }),
		check("no 5xx", ptr(float64(rr.Status5xx)), func(v float64) bool { return v == 0 }),
		check("peak RSS < 512 MiB", rr.PeakMiB, peak),
	}
	return []row{rr, fr}
}
