package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
