package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// loadResult is what one closed-loop run (or several, merged) produced.
type loadResult struct {
	Requests  uint64        // responses and transport errors, all counted
	Successes uint64        // answers with status 200–399
	Status5xx uint64        // answers with status 500–599
	Errors    uint64        // every non-success: transport errors and status ≥ 400
	Elapsed   time.Duration // wall time of the runs, summed
	Latencies *vegeta.Metrics
	Codes     map[string]uint64 // answers by status ("0" = no answer), with the first error text of each
	FirstErr  map[string]string
}

func newLoadResult() *loadResult {
	return &loadResult{Latencies: &vegeta.Metrics{}, Codes: map[string]uint64{}, FirstErr: map[string]string{}}
}

// add counts one result.
func (r *loadResult) add(res *vegeta.Result) {
	r.Requests++
	r.Latencies.Add(res)
	code := fmt.Sprint(res.Code)
	r.Codes[code]++
	switch {
	case res.Code >= 200 && res.Code < 400:
		r.Successes++
	default:
		r.Errors++
		if res.Code >= 500 {
			r.Status5xx++
		}
		if _, ok := r.FirstErr[code]; !ok {
			r.FirstErr[code] = res.Error
		}
	}
}

// answerRate is every answer (success or not) per second of wall time.
func (r *loadResult) answerRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// errorSummary lists the failures by status, e.g. "503 ×2 (503 Service Unavailable)".
func (r *loadResult) errorSummary() string {
	var parts []string
	for code, n := range r.Codes {
		if msg, ok := r.FirstErr[code]; ok {
			parts = append(parts, fmt.Sprintf("%s ×%d (%s)", code, n, msg))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// rate is successful answers per second of wall time.
func (r *loadResult) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Successes) / r.Elapsed.Seconds()
}

// quantile returns the q-quantile of latency over every request added.
func (r *loadResult) quantile(q float64) time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.Latencies.Latencies.Quantile(q)
}

// attack runs a closed loop: conns workers, each on its own keep-alive
// connection, sending the next request as soon as the previous answered
// (vegeta with rate 0 and workers = max-workers), for at most d and at most
// limit requests (0 = no count bound; the targeter returns ErrNoTargets
// after limit). Redirects are not followed: a 303 is a success. Results go
// into into (which may already hold earlier rounds); a request without an
// answer after timeout is an error (status "0"). It returns when the
// run is over or ctx ends.
func attack(ctx context.Context, name string, conns int, d, timeout time.Duration, limit uint64, tgt vegeta.Targeter, into *loadResult) {
	a := vegeta.NewAttacker(
		vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(uint64(conns)),
		vegeta.Connections(conns), vegeta.MaxConnections(conns), vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow), vegeta.Timeout(timeout), vegeta.MaxBody(0),
	)
	if limit > 0 {
		tgt = limited(tgt, limit)
	}
	stop := context.AfterFunc(ctx, func() { a.Stop() })
	defer stop()
	start := time.Now()
	for res := range a.Attack(tgt, vegeta.ConstantPacer{}, d, name) {
		if res.Error == vegeta.ErrNoTargets.Error() && res.Code == 0 {
			continue // the workers that found the count bound reached
		}
		into.add(res)
	}
	into.Elapsed += time.Since(start)
}

// attack is attack with the run's request timeout.
func (b *bench) attack(ctx context.Context, name string, conns int, d time.Duration, limit uint64, tgt vegeta.Targeter, into *loadResult) {
	attack(ctx, name, conns, d, b.o.reqTimeout, limit, tgt, into)
}

// limited returns tgt that yields at most n targets.
func limited(tgt vegeta.Targeter, n uint64) vegeta.Targeter {
	var count atomic.Uint64
	return func(t *vegeta.Target) error {
		if count.Add(1) > n {
			return vegeta.ErrNoTargets
		}
		return tgt(t)
	}
}

// getTarget is GET base+path with the session cookie, as a browser
// navigating sends it.
func getTarget(base, path, cookie string) vegeta.Targeter {
	h := http.Header{"Cookie": {referenceCookie + "=" + cookie}, "Sec-Fetch-Site": {"same-origin"}}
	return func(t *vegeta.Target) error {
		*t = vegeta.Target{Method: http.MethodGet, URL: base + path, Header: h}
		return nil
	}
}

// rotatingTarget is getTarget taking the sessions in turn, so that with as
// many sessions as connections each session has about one request in flight.
func rotatingTarget(base, path string, cookies []string) vegeta.Targeter {
	var next atomic.Uint64
	hs := make([]http.Header, len(cookies))
	for i, c := range cookies {
		hs[i] = http.Header{"Cookie": {referenceCookie + "=" + c}, "Sec-Fetch-Site": {"same-origin"}}
	}
	return func(t *vegeta.Target) error {
		h := hs[(next.Add(1)-1)%uint64(len(hs))]
		*t = vegeta.Target{Method: http.MethodGet, URL: base + path, Header: h}
		return nil
	}
}

// loginTarget submits the login form for account(i) with password pw,
// i = 0, 1, 2, … (so each request can name a distinct account), with the
// headers that pass Latch's cross-origin check.
func loginTarget(base string, account func(i uint64) string, pw string) vegeta.Targeter {
	var next atomic.Uint64
	h := http.Header{
		"Content-Type":   {"application/x-www-form-urlencoded"},
		"Origin":         {base},
		"Sec-Fetch-Site": {"same-origin"},
	}
	return func(t *vegeta.Target) error {
		email := account(next.Add(1) - 1)
		body := url.Values{"email": {email}, "password": {pw}}.Encode()
		*t = vegeta.Target{Method: http.MethodPost, URL: base + "/login", Header: h, Body: []byte(body)}
		return nil
	}
}

// ---------------------------------------------------------------------------
// Counting what a server sends to Redis and to its database.

// harnessCommands are the commands the harness itself sends to a server's
// Redis (Latch sends none of them); commandStats leaves them out.
var harnessCommands = map[string]bool{"info": true, "monitor": true, "echo": true}

// commandStats returns INFO commandstats of the Redis at redisURL: calls
// per command, without the harness's own (harnessCommands). Commands that Lua scripts
// run are included (Redis counts them), so this is commands, not round
// trips; see monitor for those.
func commandStats(ctx context.Context, redisURL string) (map[string]int64, error) {
	c, err := redis.DialURLContext(ctx, redisURL, redis.DialConnectTimeout(2*time.Second), redis.DialReadTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("commandstats: %w", err)
	}
	defer c.Close()
	s, err := redis.String(redis.DoContext(c, ctx, "INFO", "commandstats"))
	if err != nil {
		return nil, fmt.Errorf("commandstats: %w", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if harnessCommands[name] {
			continue
		}
		var n int64
		fmt.Sscan(strings.Split(rest, ",")[0], &n)
		out[name] = n
	}
	return out, nil
}

// statsDelta returns after − before, summed over commands, and per command.
func statsDelta(before, after map[string]int64) (int64, map[string]int64) {
	var total int64
	per := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			per[k] = d
			total += d
		}
	}
	return total, per
}

// monitor counts the commands clients send to a Redis, not those Lua
// scripts run inside it: each is one round trip (the Latch stores do not
// pipeline). It uses MONITOR, which slows Redis down, so it runs only in
// the rows that count round trips, never in the throughput rounds.
type monitor struct {
	conn   redis.Conn
	url    string
	nonce  string
	done   chan struct{}
	mu     sync.Mutex
	counts map[string]int64
	err    error
}

// startMonitor opens a MONITOR connection to redisURL.
func startMonitor(ctx context.Context, redisURL string) (*monitor, error) {
	c, err := redis.DialURLContext(ctx, redisURL, redis.DialConnectTimeout(2*time.Second))
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if _, err := c.Do("MONITOR"); err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m := &monitor{conn: c, url: redisURL, nonce: fmt.Sprintf("bench-monitor-end-%d", time.Now().UnixNano()),
		done: make(chan struct{}), counts: map[string]int64{}}
	go m.read()
	return m, nil
}

func (m *monitor) read() {
	defer close(m.done)
	for {
		line, err := redis.String(m.conn.Receive())
		if err != nil {
			m.mu.Lock()
			m.err = err
			m.mu.Unlock()
			return
		}
		// 1764000000.123456 [0 127.0.0.1:50412] "HGET" "latch:s:…" "d"
		// Commands run by a script show "[0 lua]" instead of an address.
		_, rest, ok := strings.Cut(line, "[")
		if !ok {
			continue
		}
		client, args, _ := strings.Cut(rest, "] ")
		if strings.HasSuffix(client, " lua") {
			continue
		}
		cmd, _, _ := strings.Cut(args, " ")
		cmd = strings.ToLower(strings.Trim(cmd, `"`))
		if strings.Contains(args, m.nonce) {
			return
		}
		if harnessCommands[cmd] {
			continue
		}
		m.mu.Lock()
		m.counts[cmd]++
		m.mu.Unlock()
	}
}

// stop sends a marker command and reads until the monitor sees it (so
// nothing sent before stop is missed), then returns the counts per command.
func (m *monitor) stop(ctx context.Context) (int64, map[string]int64, error) {
	defer m.conn.Close()
	c, err := redis.DialURLContext(ctx, m.url, redis.DialConnectTimeout(2*time.Second))
	if err != nil {
		return 0, nil, fmt.Errorf("monitor: %w", err)
	}
	_, err = c.Do("ECHO", m.nonce)
	c.Close()
	if err != nil {
		return 0, nil, fmt.Errorf("monitor: %w", err)
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		return 0, nil, fmt.Errorf("monitor: end marker not seen within 30 s")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, nil, fmt.Errorf("monitor: %w", m.err)
	}
	var total int64
	for _, n := range m.counts {
		total += n
	}
	return total, m.counts, nil
}

// Prometheus metrics Latch exports on LATCH_METRICS_ADDR.
const (
	metricStatements   = "latch_db_statements_total"
	metricConnsOpened  = "latch_db_connections_opened_total"
	metricMaxOpenConns = "latch_db_max_open_connections"
)

// scrape reads the Prometheus text metrics at metricsURL and returns the
// value of each family in names, summed over its series. A family the
// server does not export (or a server without metrics) is absent.
func scrape(ctx context.Context, metricsURL string, names ...string) map[string]float64 {
	out := map[string]float64{}
	if metricsURL == "" {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return out
	}
	for _, n := range names {
		f, ok := fams[n]
		if !ok {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Untyped != nil:
				sum += m.GetUntyped().GetValue()
			}
		}
		out[n] = sum
	}
	return out
}
