package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
)

// BenchmarkAdminOverview times GET /admin, the whole page (session load,
// the registry's count of active sessions, LoginActivity's 48 × 3 counts,
// the disabled-account count, rendering), on the embedded store (SQLite:
// sessions, accounts and audit log in one database) seeded with 100,000
// active sessions, 100,000 accounts (1,000 disabled) and 1,000,000 audit
// events: "30 days" spreads the events evenly over the last 30 days (about
// 67,000 in the chart's 48 hours), "48 hours" puts all of them in the
// chart's window (the worst case: the counts read every event). Half of
// the events are sign-ins, 30% failed sign-ins, 2% throttle refusals.
// Sub-benchmarks time the page and each of its parts alone. Seeding
// takes a while; run it with `go test -run '^$' -bench
// AdminOverview ./internal/server/`.
func BenchmarkAdminOverview(b *testing.B) {
	for _, be := range []overviewBackend{{name: "sqlite embedded"}, {name: "postgres embedded", postgres: true}} {
		for _, c := range []struct {
			name   string
			window time.Duration
		}{{"30 days", 30 * 24 * time.Hour}, {"48 hours", 48 * time.Hour}} {
			b.Run(be.name+"/"+c.name, func(b *testing.B) { benchAdminOverview(b, be, c.window) })
		}
	}
}

// benchAdminOverview is BenchmarkAdminOverview on backend be with the
// events spread over window.
func benchAdminOverview(b *testing.B, be overviewBackend, window time.Duration) {
	srv, db, clock := newOverviewServer(b, be)
	now := clock.Now()
	seedOverview(b, db, now, window, 1_000_000, 100_000)
	h := srv.Handler()
	cookies := benchSignIn(b, h, "admin@example.com", "pw-admin")
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get()
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="count-sessions">100001<`) {
		b.Fatalf("GET /admin: %d, want 200 with 100,001 sessions:\n%s", rec.Code, mainOf(rec.Body.String()))
	}
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			if rec := get(); rec.Code != http.StatusOK {
				b.Fatalf("GET /admin: %d", rec.Code)
			}
		}
	})
	// The page's parts, to show where its time goes.
	b.Run("active sessions", func(b *testing.B) {
		for b.Loop() {
			if _, err := srv.sessions.Registry().Sessions(b.Context(), session.Query{Limit: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("login activity", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.LoginActivity(b.Context(), now, overviewHours); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("disabled accounts", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.CountDisabledUsers(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchSignIn logs email in through the login form of h and returns the
// session cookies.
func benchSignIn(b *testing.B, h http.Handler, email, pw string) []*http.Cookie {
	b.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"email": {email}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("login: %d\n%s", rec.Code, rec.Body.String())
	}
	return rec.Result().Cookies()
}

// seedOverview inserts, each in one statement, 100,000 accounts (one in
// 100 disabled), sessions active sessions (expiring an hour after the real
// time, which the SQL session store compares with), and events audit
// events spread evenly over the window before now, then ANALYZEs (and, on
// PostgreSQL, VACUUMs, as autovacuum would have: TestLoginActivityPlans).
func seedOverview(b *testing.B, db *store.DB, now time.Time, window time.Duration, events, sessions int) {
	b.Helper()
	ctx := b.Context()
	pg := db.Dialect() == store.DialectPostgres
	series := "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
	from, disabled, blob := "FROM n", "CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END", "x'00'"
	eventTime := fmt.Sprintf("%d - CAST(i * %f AS INTEGER)", now.Unix(), float64(window/time.Second)/float64(events))
	if pg {
		series, from, disabled, blob = "", "FROM generate_series(1, $1) AS i", "i % 100 = 0", "'\\x00'::bytea"
		eventTime = "to_timestamp(" + eventTime + ")"
	}
	typ := fmt.Sprintf("CASE WHEN i %% 100 < 50 THEN '%s' WHEN i %% 100 < 82 THEN '%s' ELSE '%s' END",
		audit.LoginSucceeded, audit.LoginFailed, audit.Logout)
	detail := "CASE WHEN i % 100 >= 80 AND i % 100 < 82 THEN 'throttled (ip quota; retry in 60 s)' ELSE 'wrong password' END"
	expiry := time.Now().Add(time.Hour).UnixMilli()
	for _, q := range []struct {
		sql string
		n   int
	}{
		{series + "INSERT INTO users (email, email_key, name, password_hash, role, disabled, created_at) " +
			"SELECT 'seed' || i || '@example.com', 'seed' || i || '@example.com', 'Seed', 'plain:x', 'user', " +
			disabled + ", " + map[bool]string{false: "1700000000", true: "now()"}[pg] + " " + from, 100_000},
		{series + "INSERT INTO audit_events (time, type, subject_id, ip, user_agent, detail) " +
			fmt.Sprintf("SELECT %s, %s, i %% 100000 + 5, '192.0.2.' || (i %% 250), 'Mozilla/5.0', %s %s",
				eventTime, typ, detail, from), events},
		{series + "INSERT INTO sessions (token_hash, data, expiry, handle, user_id, created, seen, absolute, ip, user_agent, remember) " +
			fmt.Sprintf("SELECT 'seed' || i, %s, %d, 'h' || i, i %% 100000 + 5, %d, %d + i, %d, '192.0.2.1', 'Mozilla/5.0', 0 %s",
				blob, expiry, now.UnixMilli(), now.UnixMilli(), expiry, from), sessions},
		{map[bool]string{false: "ANALYZE", true: "VACUUM (ANALYZE) audit_events, users, sessions"}[pg], 0},
	} {
		args := []any{}
		if q.n > 0 {
			args = append(args, q.n)
		}
		if _, err := db.SQL().ExecContext(ctx, q.sql, args...); err != nil {
			b.Fatalf("seed: %v\n%s", err, q.sql)
		}
	}
}
