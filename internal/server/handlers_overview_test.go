package server

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/store/storetest"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/web"
)

// overviewApp is the server on real stores (overviewBackends) with login
// throttling in memory, on a fake clock that starts at the real time. Accounts: admin@example.com (admin),
// bob@, carol@ and dave@example.com; each password is "pw-" + the local
// part; the hasher is the fake one (hashing is not what is tested).
type overviewApp struct {
	*testApp
	db *store.DB
}

func newOverviewApp(t *testing.T, b overviewBackend) *overviewApp {
	t.Helper()
	srv, db, clock := newOverviewServer(t, b)
	a := &testApp{t: t, srv: srv, clock: clock, logs: &syncBuffer{}, hasher: &fakeHasher{}}
	a.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(a.ts.Close)
	return &overviewApp{testApp: a, db: db}
}

// overviewBackend names the stores of an overviewApp: SQL (users, audit
// log) and where the sessions are.
type overviewBackend struct {
	name     string
	postgres bool // PostgreSQL, else SQLite in a temporary directory
	redis    bool // sessions in Redis, else in the SQL database (embedded)
}

// overviewBackends: the embedded store, and PostgreSQL with Redis.
var overviewBackends = []overviewBackend{{name: "sqlite embedded"}, {name: "postgres+redis", postgres: true, redis: true}}

// newOverviewServer builds overviewApp's server on b, its SQL store and
// its clock.
func newOverviewServer(tb testing.TB, b overviewBackend) (*Server, *store.DB, *clocktest.Clock) {
	tb.Helper()
	dbURL := "sqlite:" + filepath.Join(tb.TempDir(), "latch.db")
	if b.postgres {
		dbURL = storetest.PostgresURL(tb)
	}
	db, err := store.Open(tb.Context(), dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	for _, email := range []string{"admin@example.com", "bob@example.com", "carol@example.com", "dave@example.com"} {
		u := &user.User{Email: email, Name: email[:strings.IndexByte(email, '@')], Role: user.RoleUser,
			PasswordHash: "plain:pw-" + email[:strings.IndexByte(email, '@')]}
		if email == "admin@example.com" {
			u.Role = user.RoleAdmin
		}
		if err := db.CreateUser(tb.Context(), u); err != nil {
			tb.Fatal(err)
		}
	}
	var sessions session.Store = session.NewSQLStore(db.SQL(), db.Dialect(), 5*time.Second)
	if b.redis {
		rs := session.NewRedisStore(sessiontest.RedisPool(tb), sessiontest.Prefix(tb), 5*time.Second)
		db.SetUserStateCache(rs) // as cmd/latch wires it
		sessions = rs
	}
	// The SQL session store reads the real time for expiry, so the fake
	// clock starts at it.
	clock := clocktest.New(time.Now().Truncate(time.Second))
	// Two failed attempts per account and network, then refusals.
	lim, err := throttle.NewMemory(throttle.Quotas{AccountIP: throttle.Quota{Count: 2, Period: 30 * time.Minute}}, 0, clock.Now)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := Config{
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Users:     db,
		Audit:     db,
		Overview:  db,
		Passwords: &fakeHasher{},
		Sessions: session.NewManager(session.Options{
			Store:       sessions,
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
			RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
			Clock: clock.Now,
		}),
		Throttle:  Throttle{Limiter: lim},
		Templates: web.Templates,
		Static:    web.Static,
		Clock:     clock.Now,
	}
	cfg.Accounts = testAccounts(cfg, user.NewStrengthChecker(user.StrengthOptions{}))
	srv, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return srv, db, clock
}

// signIn logs email in through the login form with its password.
func (a *overviewApp) signIn(email string) *client {
	a.t.Helper()
	c := a.newClient(firefoxAgent)
	res, body := loginAs(c, email, "pw-"+email[:strings.IndexByte(email, '@')])
	wantRedirect(a.t, res, body, "/profile")
	c.refreshCSRF()
	return c
}

// chartSVG is the overview chart as parsed from the page.
type chartSVG struct {
	Title string `xml:"title"`
	Desc  string `xml:"desc"`
	Hours []struct {
		Class string `xml:"class,attr"`
		Rects []struct {
			Class  string  `xml:"class,attr"`
			Y      float64 `xml:"y,attr"`
			Height float64 `xml:"height,attr"`
			Count  int     `xml:"data-count,attr"`
		} `xml:"rect"`
	} `xml:"g"`
	Texts []string `xml:"text"`
}

var svgElement = regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`)

// parseChart returns the chart of an overview page, checking that it is
// well-formed XML with a title and a description.
func parseChart(t *testing.T, body string) chartSVG {
	t.Helper()
	raw := svgElement.FindString(body)
	if raw == "" {
		t.Fatalf("no chart on the page:\n%s", mainOf(body))
	}
	var c chartSVG
	if err := xml.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatalf("chart is not well-formed XML: %v\n%s", err, raw)
	}
	if c.Title == "" || c.Desc == "" {
		t.Errorf("chart lacks a title or a description:\n%s", raw)
	}
	if !strings.Contains(raw, `role="img"`) || !strings.Contains(raw, `aria-labelledby="chart-title chart-desc"`) {
		t.Errorf("chart is not labelled as an image:\n%s", raw[:min(len(raw), 300)])
	}
	return c
}

// chartBars returns the sign-in and failure counts of each hour of c and
// checks that c has overviewHours hours, that every bar stands on the
// base line, and that its height is its count scaled to the largest
// count (the top of the scale: chartPlot units), within rounding.
func chartBars(t *testing.T, c chartSVG) (ok, failed []int) {
	t.Helper()
	if len(c.Hours) != overviewHours {
		t.Fatalf("chart has %d hours, want %d", len(c.Hours), overviewHours)
	}
	top := 0
	for _, h := range c.Hours {
		for _, r := range h.Rects {
			top = max(top, r.Count)
		}
	}
	for i, h := range c.Hours {
		if len(h.Rects) != 2 || h.Rects[0].Class != "chart-ok" || h.Rects[1].Class != "chart-failed" {
			t.Fatalf("hour %d: bars %+v, want a chart-ok and a chart-failed bar", i, h.Rects)
		}
		for _, r := range h.Rects {
			want := 0.0
			if top > 0 {
				want = float64(r.Count) * chartPlot / float64(top)
			}
			if math.Abs(r.Height-want) > 0.5 {
				t.Errorf("hour %d %s: height %v for %d of at most %d, want %.1f", i, r.Class, r.Height, r.Count, top, want)
			}
			if r.Y+r.Height != chartTop+chartPlot {
				t.Errorf("hour %d %s: bar from y %v, %v tall, does not stand on the base line %d", i, r.Class, r.Y, r.Height, chartTop+chartPlot)
			}
		}
		ok, failed = append(ok, h.Rects[0].Count), append(failed, h.Rects[1].Count)
	}
	return ok, failed
}

// countOf returns the number shown in the element with id on the page.
func countOf(t *testing.T, body, id string) int {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `">(\d+)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no count %s on the page:\n%s", id, mainOf(body))
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestAdminOverview: after a known sequence of sign-ins, failed sign-ins,
// throttled attempts and a disabled account, the overview shows each
// count, and the chart's 48 hours hold the events of their hours with
// bars as tall as their share of the busiest hour.
func TestAdminOverview(t *testing.T) {
	for _, b := range overviewBackends {
		t.Run(b.name, func(t *testing.T) { testAdminOverview(t, b) })
	}
}

func testAdminOverview(t *testing.T, b overviewBackend) {
	a := newOverviewApp(t, b)
	ctx, start := t.Context(), a.clock.Now()
	// Older sign-ins: 30 hours ago (in the chart, not in the last 24
	// hours) and 49 hours ago (in neither).
	for _, ago := range []time.Duration{30 * time.Hour, 49 * time.Hour} {
		if err := a.db.InsertAuditEvent(ctx, &audit.Event{Time: start.Add(-ago), Type: audit.LoginSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	dave, err := a.db.UserByEmail(ctx, "dave@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.db.SetDisabled(ctx, dave.ID, true); err != nil {
		t.Fatal(err)
	}

	admin := a.signIn("admin@example.com") // sign-in 1, session 1
	a.signIn("bob@example.com")            // 2, session 2
	bob := a.signIn("bob@example.com")     // 3, session 3
	// An app signs in (POST /api/v1/sessions): sign-in 4, app session 1.
	apiSignInAs(t, a.testApp, "bob@example.com", "pw-bob")
	anon := a.newClient(firefoxAgent)
	for _, try := range []struct {
		email, pw string
		status    int
	}{
		{"bob@example.com", "wrong", http.StatusUnauthorized},         // failed 1
		{"nobody@example.com", "pw-nobody", http.StatusUnauthorized},  // failed 2: unknown email
		{"dave@example.com", "pw-dave", http.StatusUnauthorized},      // failed 3: disabled account
		{"carol@example.com", "wrong", http.StatusUnauthorized},       // failed 4
		{"carol@example.com", "wrong", http.StatusUnauthorized},       // failed 5: carol's quota from here is used up
		{"carol@example.com", "pw-carol", http.StatusTooManyRequests}, // throttled, audited (the minute's sample)
		{"carol@example.com", "wrong", http.StatusTooManyRequests},    // throttled, not audited (same minute)
	} {
		res, body := loginAs(anon, try.email, try.pw)
		wantStatus(t, res, body, try.status)
	}

	res, body := admin.get("/admin")
	wantStatus(t, res, body, http.StatusOK)
	for id, want := range map[string]int{
		"count-sessions": 4, "count-sessions-browser": 3, "count-sessions-app": 1,
		"count-signins": 4, "count-failed": 5, "count-throttled": 1, "count-disabled": 1,
	} {
		if got := countOf(t, body, id); got != want {
			t.Errorf("%s = %d, want %d", id, got, want)
		}
	}
	// The cards link to what they open, said so: the audit list filters
	// by whole UTC days (from the day the 24 hours start on), its failed
	// sign-ins include the throttled ones, and the account list is all
	// accounts. Not a bare count linking to every event of all time.
	day := start.Truncate(time.Hour).Add(-23 * time.Hour).UTC().Format(time.DateOnly)
	mustContain(t, body,
		`<a class="cell-note" href="/admin/audit?type=login.succeeded&amp;from=`+day+`" id="link-signins">Sign-in events since `+day+` (UTC)</a>`,
		`<a class="cell-note" href="/admin/audit?type=login.failed&amp;from=`+day+`" id="link-failed">Failed sign-in events since `+day+` (UTC), throttled ones included</a>`,
		`<a class="cell-note" href="/admin/users" id="link-disabled">All accounts, with their state</a>`)
	mustNotContain(t, body, `href="/admin/audit?type=login.succeeded"`, `href="/admin/audit?type=login.failed"`)
	for _, link := range []string{"/admin/audit?type=login.succeeded&from=" + day, "/admin/audit?type=login.failed&from=" + day} {
		res, body := admin.get(link)
		wantStatus(t, res, body, http.StatusOK)
	}
	mustContain(t, body, `<a href="/admin" aria-current="page">Overview</a>`, `<a href="/admin">Admin</a>`,
		`<caption>Sign-ins per hour, last 48 hours</caption>`)
	// No script, no inline style, nothing fetched from elsewhere.
	mustNotContain(t, body, "<script", "style=", "http://", "https://", "ZgotmplZ", "<no value>")
	ok, failed := chartBars(t, parseChart(t, body))
	wantOK, wantFailed := make([]int, overviewHours), make([]int, overviewHours)
	wantOK[47], wantFailed[47] = 4, 5
	wantOK[47-30] = 1 // 30 hours ago: the hour [t0-30h, t0-29h) ends 29 hours before the window does
	if !slicesEqual(ok, wantOK) || !slicesEqual(failed, wantFailed) {
		t.Errorf("chart counts:\n sign-ins %v\n  want    %v\n failures %v\n  want    %v", ok, wantOK, failed, wantFailed)
	}
	// The screen-reader table has a row per hour, and is hidden by a div
	// (a table ignores the class's 1px width and widened a phone's page).
	mustContain(t, body, "<div class=\"visually-hidden\">\n<table>")
	if n := strings.Count(body, `<tr><th scope="row">`); n != overviewHours {
		t.Errorf("data table has %d rows, want %d", n, overviewHours)
	}

	// Not for others.
	res, body = bob.get("/admin")
	wantStatus(t, res, body, http.StatusForbidden)

	// A day later the recent events move to the first half of the chart
	// and out of the 24-hour counts. (The admin's session is past its idle
	// timeout by the fake clock; the SQL store's expiry follows the real
	// one, so the session count is not checked here.)
	a.clock.Advance(25 * time.Hour)
	admin = a.signIn("admin@example.com")
	res, body = admin.get("/admin")
	wantStatus(t, res, body, http.StatusOK)
	for id, want := range map[string]int{"count-signins": 1, "count-failed": 0, "count-throttled": 0} {
		if got := countOf(t, body, id); got != want {
			t.Errorf("a day later: %s = %d, want %d", id, got, want)
		}
	}
	ok, failed = chartBars(t, parseChart(t, body))
	if ok[47-25] != 4 || failed[47-25] != 5 || ok[47] != 1 {
		t.Errorf("a day later: the hour 25 hours ago has %d sign-ins and %d failures (want 4, 5); the last %d (want 1)",
			ok[47-25], failed[47-25], ok[47])
	}
}

// TestAdminOverviewEmpty: with no sign-in events in the window the page
// renders, every bar is 0 units tall and the scale's top is 0 (no
// division by zero).
func TestAdminOverviewEmpty(t *testing.T) {
	a := newOverviewApp(t, overviewBackends[0])
	admin := a.signIn("admin@example.com")
	if _, err := a.db.SQL().ExecContext(t.Context(), "DELETE FROM audit_events"); err != nil {
		t.Fatal(err)
	}
	res, body := admin.get("/admin")
	wantStatus(t, res, body, http.StatusOK)
	c := parseChart(t, body)
	ok, failed := chartBars(t, c)
	for i := range ok {
		if ok[i] != 0 || failed[i] != 0 {
			t.Fatalf("hour %d: %d, %d events, want none", i, ok[i], failed[i])
		}
	}
	if len(c.Texts) == 0 || c.Texts[0] != "0" {
		t.Errorf("scale labels %q, want the top at 0", c.Texts)
	}
	if got := countOf(t, body, "count-signins"); got != 0 {
		t.Errorf("count-signins = %d, want 0", got)
	}
	if got := countOf(t, body, "count-sessions"); got != 1 {
		t.Errorf("count-sessions = %d, want 1 (the admin's)", got)
	}
}

// TestNewChartEmpty: the chart of hours without events has no bar taller
// than 0 and a scale top of 0.
func TestNewChartEmpty(t *testing.T) {
	for _, n := range []int{0, 1, overviewHours} {
		c := newChart(make([]audit.LoginHour, n))
		if c.Max != 0 || len(c.Bars) != n {
			t.Fatalf("%d empty hours: Max %d, %d bars", n, c.Max, len(c.Bars))
		}
		for _, b := range c.Bars {
			if b.OKHeight != 0 || b.FailedHeight != 0 || b.OKY != c.Base || b.FailedY != c.Base {
				t.Errorf("%d empty hours: bar %+v, want flat on the base line %d", n, b, c.Base)
			}
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// blockingOverview is an OverviewStore whose LoginActivity waits for
// release, counting how many run at once.
type blockingOverview struct {
	release    chan struct{}
	mu         sync.Mutex
	running    int
	maxRunning int
	calls      int
}

func (b *blockingOverview) LoginActivity(ctx context.Context, end time.Time, hours int) ([]audit.LoginHour, error) {
	b.mu.Lock()
	b.running++
	b.calls++
	b.maxRunning = max(b.maxRunning, b.running)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.running--
		b.mu.Unlock()
	}()
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return make([]audit.LoginHour, hours), nil
}

func (b *blockingOverview) CountDisabledUsers(context.Context) (int, error) { return 0, nil }

func (b *blockingOverview) stats() (calls, maxRunning int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls, b.maxRunning
}

// TestAdminOverviewOneAtATime: parallel overviews are computed one at a
// time (each reads many index entries; 20 at once took every database
// connection and gave 503s and a 500: second break-it review), and the
// waiting ones are answered when their turn comes.
func TestAdminOverviewOneAtATime(t *testing.T) {
	a := newTestApp(t)
	store := &blockingOverview{release: make(chan struct{})}
	a.srv.overview = store
	admin := a.login("admin@example.com", false)
	const n = 4
	statuses := make(chan int, n)
	for range n {
		go func() {
			res, _ := admin.get("/admin")
			statuses <- res.StatusCode
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		calls, _ := store.stats()
		if calls == 1 && a.srv.overviewRun.Queued() == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never saw one overview running and %d waiting (calls %d, queued %d)", n-1, calls, a.srv.overviewRun.Queued())
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(store.release)
	for range n {
		if st := <-statuses; st != http.StatusOK {
			t.Errorf("GET /admin: %d, want 200", st)
		}
	}
	if calls, maxRunning := store.stats(); calls != n || maxRunning != 1 {
		t.Errorf("%d overviews computed, at most %d at once; want %d, 1", calls, maxRunning, n)
	}
}
