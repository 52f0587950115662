package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/session/sessiontest"
)

// serveInProcess runs `latch migrate` and then `latch serve` (the real
// command, in this process) with env on a kernel-chosen port, and returns
// the base URL and the serve log. serve stops when the test ends.
func serveInProcess(t *testing.T, env map[string]string) (string, *procLog) {
	t.Helper()
	env["LATCH_DATABASE_URL"] = "sqlite:" + filepath.Join(t.TempDir(), "latch.db")
	env["LATCH_ADDR"] = "127.0.0.1:0"
	env["LATCH_COOKIE_SECURE"] = "false"
	env["LATCH_ARGON2_MEMORY"], env["LATCH_ARGON2_TIME"] = "64", "1"
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	if code := run(t.Context(), []string{"migrate"}, getenv, nil, &out, &out); code != exitOK {
		t.Fatalf("latch migrate: exit %d\n%s", code, out.String())
	}
	logs := &procLog{addr: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, nil, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("latch serve did not stop within 15s")
		}
	})
	select {
	case addr := <-logs.addr:
		return "http://" + addr, logs
	case code := <-done:
		t.Fatalf("latch serve exited with %d before listening\n%s", code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("latch serve did not log a listening address within 30s\n%s", logs.String())
	}
	return "", nil
}

var metricsLine = regexp.MustCompile(`"msg":"metrics listening","addr":"([^"]+)"`)

// scrape returns the value of the unlabelled sample name from the metrics
// endpoint at base.
func scrape(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no sample %s in:\n%s", name, body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetricsListener: with LATCH_METRICS_ADDR the metrics are served
// there (every name `make bench` reads), the statement counter moves when a
// request runs SQL, and the public listener has no /metrics.
func TestMetricsListener(t *testing.T) {
	base, logs := serveInProcess(t, map[string]string{"LATCH_METRICS_ADDR": "127.0.0.1:0"})
	m := metricsLine.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics listening line in the log:\n%s", logs.String())
	}
	metricsBase := "http://" + m[1]
	for _, name := range []string{"latch_db_connections_opened_total", "latch_db_open_connections",
		"latch_db_in_use_connections", "latch_db_idle_connections", "latch_db_max_open_connections",
		"latch_db_wait_total", "latch_db_wait_seconds_total"} {
		scrape(t, metricsBase, name)
	}
	if got := scrape(t, metricsBase, "latch_db_max_open_connections"); got < 4 {
		t.Errorf("latch_db_max_open_connections = %v, want the SQLite default (at least 4)", got)
	}

	before := scrape(t, metricsBase, "latch_db_statements_total")
	// A failed login reads the account and records an audit event.
	req, _ := http.NewRequest(http.MethodPost, base+"/login",
		strings.NewReader(url.Values{"email": {"nobody@example.com"}, "password": {"not the password at all"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /login: %d, want 401", resp.StatusCode)
	}
	if after := scrape(t, metricsBase, "latch_db_statements_total"); after <= before {
		t.Errorf("latch_db_statements_total %v before a failed login, %v after; want it to grow", before, after)
	}

	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %d, want 404", resp.StatusCode)
	}
}

// TestMetricsOffByDefault: without LATCH_METRICS_ADDR no metrics listener
// is started, and the public listener has no /metrics either.
func TestMetricsOffByDefault(t *testing.T) {
	base, logs := serveInProcess(t, map[string]string{})
	if strings.Contains(logs.String(), "metrics listening") {
		t.Errorf("a metrics listener was started without LATCH_METRICS_ADDR:\n%s", logs.String())
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %d, want 404", resp.StatusCode)
	}
}

// scrapeFamilies returns every metric family the metrics endpoint at base
// serves, parsed with Prometheus's own text parser.
func scrapeFamilies(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sampleOf returns the value of the sample of family name whose labels
// include labels: a counter's or gauge's value, a histogram's sample
// count; 0 when there is no such sample (a labelled counter that has not
// been incremented yet).
func sampleOf(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// gathered returns the sample of name with labels from ta's metrics
// registry (sampleOf).
func gathered(t *testing.T, ta *testApp, name string, labels ...string) float64 {
	t.Helper()
	fams, err := ta.app.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	return sampleOf(byName, name, labels...)
}

// TestMetricsCountLoginsSessionsRequests runs the real `latch serve` with
// Redis sessions, a metrics listener and an account+IP quota of one failed
// login, then registers, logs in, logs out, fails a login and is throttled
// on the next, and checks that each counter moved by exactly what those
// requests did: requests by route pattern (never the raw path) and status,
// logins by outcome, sessions created and revoked by cause, and password
// hashing slots taken (one hash at registration, one verification per
// login that reached the password).
func TestMetricsCountLoginsSessionsRequests(t *testing.T) {
	base, logs := serveInProcess(t, map[string]string{
		"LATCH_METRICS_ADDR":        "127.0.0.1:0",
		"LATCH_REDIS_URL":           sessiontest.RedisURL(t),
		"LATCH_REDIS_KEY_PREFIX":    sessiontest.Prefix(t),
		"LATCH_THROTTLE_ACCOUNT_IP": "1/1h",
	})
	m := metricsLine.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics listening line in the log:\n%s", logs.String())
	}
	metricsBase := "http://" + m[1]
	before := scrapeFamilies(t, metricsBase)
	// Present from the start (labelled ones with a zero series per fixed
	// label value), so that rate() and alerts have a series to read.
	for _, name := range []string{"latch_logins_total", "latch_sessions_created_total", "latch_redis_command_errors_total",
		"latch_password_hash_in_use", "latch_password_hash_queue_depth",
		"latch_redis_pool_in_use_connections", "latch_redis_pool_idle_connections"} {
		if _, ok := before[name]; !ok {
			t.Errorf("metric %s missing before any request", name)
		}
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, want int) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d\n%s", path, resp.StatusCode, want, body)
		}
		return resp
	}
	get := func(path string, want int) string {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		return string(body)
	}
	email, pw := "metrics@example.com", "correct horse battery staple"
	post("/register", url.Values{"email": {email}, "name": {"Metrics"}, "password": {pw}}, http.StatusSeeOther)
	post("/login", url.Values{"email": {email}, "password": {pw}}, http.StatusSeeOther)
	token := csrfField.FindStringSubmatch(get("/profile", http.StatusOK))
	if token == nil {
		t.Fatal("no csrf_token on /profile")
	}
	post("/logout", url.Values{"csrf_token": {html.UnescapeString(token[1])}}, http.StatusSeeOther)
	post("/login", url.Values{"email": {email}, "password": {"not the password at all"}}, http.StatusUnauthorized)
	post("/login", url.Values{"email": {email}, "password": {"not the password either"}}, http.StatusTooManyRequests)
	get("/no/such/page/12345", http.StatusNotFound)
	after := scrapeFamilies(t, metricsBase)

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"latch_logins_total", []string{"outcome", "success"}, 1},
		{"latch_logins_total", []string{"outcome", "bad_credentials"}, 1},
		{"latch_logins_total", []string{"outcome", "throttled"}, 1},
		{"latch_logins_total", []string{"outcome", "unavailable"}, 0},
		{"latch_sessions_created_total", nil, 1},
		{"latch_sessions_revoked_total", []string{"cause", "logout"}, 1},
		{"latch_http_requests_total", []string{"route", "/login", "method", "POST", "status", "303"}, 1},
		{"latch_http_requests_total", []string{"route", "/login", "method", "POST", "status", "401"}, 1},
		{"latch_http_requests_total", []string{"route", "/login", "method", "POST", "status", "429"}, 1},
		{"latch_http_requests_total", []string{"route", "/register", "method", "POST", "status", "303"}, 1},
		{"latch_http_requests_total", []string{"route", "/logout", "method", "POST", "status", "303"}, 1},
		{"latch_http_requests_total", []string{"route", "/profile", "method", "GET", "status", "200"}, 1},
		{"latch_http_requests_total", []string{"route", "unmatched", "method", "GET", "status", "404"}, 1},
		{"latch_http_request_duration_seconds", []string{"route", "/login", "method", "POST"}, 3},
		// Registration hashes once; the good and the bad login verify once
		// each; the throttled one is refused before any hashing.
		{"latch_password_hash_wait_seconds", nil, 3},
		{"latch_redis_command_errors_total", []string{"kind", "connection"}, 0},
		{"latch_redis_command_errors_total", []string{"kind", "reply"}, 0},
	} {
		if got := sampleOf(after, c.name, c.labels...) - sampleOf(before, c.name, c.labels...); got != c.want {
			t.Errorf("%s%q moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, m := range after["latch_http_requests_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "route" && strings.Contains(lp.GetValue(), "12345") {
				t.Errorf("a raw path became a route label: %q", lp.GetValue())
			}
		}
	}
	if got := sampleOf(after, "latch_password_hash_in_use"); got != 0 {
		t.Errorf("latch_password_hash_in_use = %v with no request running, want 0", got)
	}
}

// TestMetricsRevocationCauses signs one account in on several browsers
// (with a limit of 2 sessions per user) and ends its sessions every way the
// site offers, checking that latch_sessions_revoked_total moves by the
// number of sessions each way ended, under its cause, and that requests to
// routes with parameters are labelled with the pattern, never the ID.
func TestMetricsRevocationCauses(t *testing.T) {
	ta := startApp(t, backends[0], func(c *config.Config) { c.MaxSessionsPerUser = 2 })
	email, pw := ta.newUser("Causes")
	admin, adminPW := adminAccount(t, ta, "CauseAdmin")
	ab := ta.newBrowser()
	ab.login(admin.Email, adminPW, false)
	subject := mustUser(t, ta.app.db, email)

	revoked := func(cause string) float64 {
		return gathered(t, ta, "latch_sessions_revoked_total", "cause", cause)
	}
	step := func(cause string, want float64, do func()) {
		t.Helper()
		before := revoked(cause)
		do()
		if got := revoked(cause) - before; got != want {
			t.Errorf("latch_sessions_revoked_total{cause=%q} moved by %v, want %v", cause, got, want)
		}
	}
	createdBefore := gathered(t, ta, "latch_sessions_created_total")
	var b3 *browser
	step("limit", 1, func() {
		for range 3 {
			b3 = ta.newBrowser()
			b3.login(email, pw, false)
		}
	})
	if got := gathered(t, ta, "latch_sessions_created_total") - createdBefore; got != 3 {
		t.Errorf("latch_sessions_created_total moved by %v over 3 logins, want 3", got)
	}
	step("user", 1, func() {
		if p := b3.post("/sessions/revoke-others", url.Values{"csrf_token": {b3.csrfToken()}}); p.status != http.StatusSeeOther {
			t.Fatalf("revoke others: %d\n%s", p.status, p.body)
		}
	})
	step("password_change", 1, func() {
		ta.newBrowser().login(email, pw, false)
		p := b3.post("/account/password", url.Values{"csrf_token": {b3.csrfToken()}, "current_password": {pw},
			"password": {"a brand new pass phrase, quite long"}})
		if p.status != http.StatusOK {
			t.Fatalf("password change: %d\n%s", p.status, p.body)
		}
	})
	pw = "a brand new pass phrase, quite long"
	step("admin", 2, func() {
		ta.newBrowser().login(email, pw, false) // b3 and this one
		if p := ab.post(fmt.Sprintf("/admin/users/%d/kill-sessions", subject.ID), url.Values{"csrf_token": {ab.csrfToken()}}); p.status != http.StatusSeeOther {
			t.Fatalf("admin kill sessions: %d\n%s", p.status, p.body)
		}
	})
	step("disabled", 1, func() {
		ta.newBrowser().login(email, pw, false)
		if p := ab.post(fmt.Sprintf("/admin/users/%d/disable", subject.ID), url.Values{"csrf_token": {ab.csrfToken()}}); p.status != http.StatusSeeOther {
			t.Fatalf("admin disable: %d\n%s", p.status, p.body)
		}
	})
	for _, route := range []string{"/admin/users/{id}/kill-sessions", "/admin/users/{id}/disable"} {
		if got := gathered(t, ta, "latch_http_requests_total", "route", route, "method", "POST", "status", "303"); got != 1 {
			t.Errorf("latch_http_requests_total{route=%q,status=303} = %v, want 1", route, got)
		}
	}

	// A 404 from a route keeps its pattern; a 404 inside the /admin
	// sub-router and a 405 match no route.
	unmatched404 := gathered(t, ta, "latch_http_requests_total", "route", "unmatched", "method", "GET", "status", "404")
	if p := ab.get("/admin/users/987654"); p.status != http.StatusNotFound {
		t.Fatalf("GET /admin/users/987654: %d, want 404", p.status)
	}
	if p := ab.get("/admin/no-such-page"); p.status != http.StatusNotFound {
		t.Fatalf("GET /admin/no-such-page: %d, want 404", p.status)
	}
	req, _ := http.NewRequest(http.MethodPut, ta.srv.URL+"/login", nil)
	if p := ab.do(req); p.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT /login: %d, want 405", p.status)
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"route", "/admin/users/{id}", "method", "GET", "status", "404"}, 1},
		{[]string{"route", "unmatched", "method", "GET", "status", "404"}, unmatched404 + 1},
		{[]string{"route", "unmatched", "method", "PUT", "status", "405"}, 1},
		{[]string{"route", "/admin/*"}, 0},
	} {
		if got := gathered(t, ta, "latch_http_requests_total", c.labels...); got != c.want {
			t.Errorf("latch_http_requests_total%q = %v, want %v", c.labels, got, c.want)
		}
	}
}
