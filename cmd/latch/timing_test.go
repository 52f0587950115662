package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/server"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/web"
)

// countingHasher wraps the real password.Hasher and counts the hashing
// work each request asks for.
type countingHasher struct {
	inner *password.Hasher

	mu       sync.Mutex
	calls    hashCalls
	verified []string // the stored hashes passed to Verify
}

// hashCalls counts calls of each PasswordHasher method that runs a hash
// function, and of PadFailure (a timer wait).
type hashCalls struct{ Hash, Verify, VerifyDummy, PadFailure int }

var _ server.PasswordHasher = (*countingHasher)(nil)

func (h *countingHasher) Hash(ctx context.Context, pw string) (string, error) {
	h.mu.Lock()
	h.calls.Hash++
	h.mu.Unlock()
	return h.inner.Hash(ctx, pw)
}

func (h *countingHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	h.mu.Lock()
	h.calls.Verify++
	h.verified = append(h.verified, encoded)
	h.mu.Unlock()
	return h.inner.Verify(ctx, pw, encoded)
}

func (h *countingHasher) VerifyDummy(ctx context.Context, pw string) (bool, error) {
	h.mu.Lock()
	h.calls.VerifyDummy++
	h.mu.Unlock()
	return h.inner.VerifyDummy(ctx, pw)
}

func (h *countingHasher) NeedsRehash(encoded string) bool { return h.inner.NeedsRehash(encoded) }

func (h *countingHasher) CheaperThanCurrent(encoded string) bool { return h.inner.CheaperThanCurrent(encoded) }

func (h *countingHasher) PadFailure(ctx context.Context, spent time.Duration) {
	h.mu.Lock()
	h.calls.PadFailure++
	h.mu.Unlock()
	h.inner.PadFailure(ctx, spent)
}

// take returns the calls and verified hashes since the last take and
// resets them.
func (h *countingHasher) take() (hashCalls, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, v := h.calls, h.verified
	h.calls, h.verified = hashCalls{}, nil
	return c, v
}

// startAppWithHasher runs Latch like startApp (SQLite, embedded sessions),
// wired as newApp wires it but with a countingHasher around a real Hasher
// made with params: newApp builds its own Hasher, which a test cannot
// observe.
func startAppWithHasher(t *testing.T, params password.Params) (*testApp, *countingHasher) {
	t.Helper()
	cfg := testConfig(t, backend{name: "sqlite embedded"})
	clock := clocktest.New(time.Now())
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := store.Open(t.Context(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{cfg: cfg, log: log, db: db}
	t.Cleanup(a.Close)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	hasher := &countingHasher{inner: password.NewHasher(params, 0, 0)}
	a.server, err = server.New(server.Config{
		Log:       log,
		Users:     db,
		Audit:     db,
		Devices:   db,
		Passwords: hasher,
		Sessions: session.Options{
			Store:                   session.NewSQLStore(db.SQL(), db.Dialect(), 2*time.Second),
			IdleTimeout:             cfg.IdleTimeout,
			AbsoluteTimeout:         cfg.AbsoluteTimeout,
			RememberIdleTimeout:     cfg.RememberIdleTimeout,
			RememberAbsoluteTimeout: cfg.RememberAbsoluteTimeout,
			Secure:                  cfg.CookieSecure,
		},
		Templates:           web.Templates,
		Static:              web.Static,
		Clock:               clock.Now,
		DatabaseUnavailable: store.Unavailable,
		ReauthWindow:        cfg.ReauthWindow,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a.server.Handler())
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testApp{t: t, app: a, srv: srv, clock: clock, logs: logs, cfg: cfg}, hasher
}

// failedLogin posts the login form and expects the one failure answer:
// 401 and "Incorrect email or password.". It returns the page with the
// email as typed replaced by EMAIL, so pages can be compared.
func failedLogin(t *testing.T, b *browser, email, pw string) string {
	t.Helper()
	p := b.post("/login", url.Values{"email": {email}, "password": {pw}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Incorrect email or password.") {
		t.Fatalf("login %q: status %d, want 401 with the failure message\n%s", email, p.status, p.body)
	}
	return strings.ReplaceAll(p.body, email, "EMAIL")
}

// TestLoginFailuresDoTheSameHashingWork is the structural timing test:
// whatever makes a login fail (unknown email, wrong password, disabled
// account), the server runs argon2id exactly once with the current
// parameters and answers the same page; a password over the length limit
// is refused before any hashing, whoever the email names. That the dummy
// hash behind VerifyDummy is made with the Hasher's current parameters is
// asserted in internal/password (TestVerifyDummy), which can see it.
func TestLoginFailuresDoTheSameHashingWork(t *testing.T) {
	ta, hasher := startAppWithHasher(t, testParams)
	email, pw := ta.newUser("Timing")
	disabledEmail, _ := ta.newUser("Dormant")
	d, err := ta.app.db.UserByEmail(t.Context(), disabledEmail)
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.app.db.SetDisabled(t.Context(), d.ID, true); err != nil {
		t.Fatal(err)
	}
	stored, err := ta.app.db.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	hasher.take()

	b := ta.newBrowser()
	// Emails of one length, so that the pages can be compared whole.
	unknown := "nobody-" + strings.Repeat("x", len(email)-len("nobody-@example.com")) + "@example.com"
	if len(unknown) != len(email) {
		t.Fatalf("test set-up: %q and %q differ in length", unknown, email)
	}
	tooLong := strings.Repeat("p", 1025)
	tests := []struct {
		name         string
		email, pw    string
		want         hashCalls
		wantVerified []string
	}{
		{"unknown email", unknown, pw, hashCalls{VerifyDummy: 1}, nil},
		{"wrong password", email, pw + "!", hashCalls{Verify: 1}, []string{stored.PasswordHash}},
		{"disabled account, right password", disabledEmail, pw, hashCalls{Verify: 1}, nil},
		{"unknown email, password too long", unknown, tooLong, hashCalls{}, nil},
		{"known email, password too long", email, tooLong, hashCalls{}, nil},
	}
	pages := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages[tt.name] = failedLogin(t, b, tt.email, tt.pw)
			got, verified := hasher.take()
			if got != tt.want {
				t.Errorf("hashing calls = %+v, want %+v", got, tt.want)
			}
			if tt.wantVerified != nil && !slices.Equal(verified, tt.wantVerified) {
				t.Errorf("Verify got hashes %q, want the stored hash %q", verified, tt.wantVerified)
			}
			for _, h := range verified {
				// The stored hash has the parameters the dummy hash is made
				// with, so Verify and VerifyDummy do the same work.
				if hasher.inner.NeedsRehash(h) {
					t.Errorf("Verify ran on a hash with other parameters than the current %+v: %q", hasher.inner.Params(), h)
				}
			}
		})
	}
	if pages["unknown email"] != pages["wrong password"] {
		t.Error("unknown email and wrong password answer different pages (apart from the email as typed)")
	}
}

// TestLoginFailureTimes measures the mean response time of logins with an
// unknown email and with a wrong password, with the real (OWASP) argon2id
// parameters, and logs them. The two kinds are interleaved (ABBA) so that
// drift in the machine's load affects both alike; throttling is off (a
// zero server.Throttle), since 100 failures from one IP would be refused. Run with -v to see the numbers:
//
//	go test ./cmd/latch -run TestLoginFailureTimes -v -count=1
//
// The only assertion is a loose sanity bound on the ratio of the medians
// (0.5 to 2), which only a missing or doubled hash would break.
func TestLoginFailureTimes(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("measures 100 argon2id logins with the real parameters (never skipped under CI)")
	}
	n := 50
	if raceEnabled() {
		// The race detector makes argon2id about ten times slower: fewer
		// logins, the hashing-call check only, and no ratio check (numbers
		// under -race say nothing about production).
		n = 6
	}
	params := password.DefaultParams()
	ta, hasher := startAppWithHasher(t, params)
	email, pw := ta.newUser("Measured")
	unknown := "nobody-" + strings.Repeat("x", len(email)-len("nobody-@example.com")) + "@example.com"
	b := ta.newBrowser()

	measure := func(email, pw string) time.Duration {
		t.Helper()
		start := time.Now()
		p := b.post("/login", url.Values{"email": {email}, "password": {pw}})
		d := time.Since(start)
		if p.status != http.StatusUnauthorized {
			t.Fatalf("login %q: status %d, want 401", email, p.status)
		}
		return d
	}
	for range 3 { // warm up: connection, templates, page cache
		measure(unknown, pw)
		measure(email, pw+"!")
	}
	hasher.take()
	var unknownTimes, wrongTimes []time.Duration
	for i := range n { // pairs in ABBA order, so neither kind always goes first
		if i%2 == 0 {
			unknownTimes = append(unknownTimes, measure(unknown, pw))
			wrongTimes = append(wrongTimes, measure(email, pw+"!"))
		} else {
			wrongTimes = append(wrongTimes, measure(email, pw+"!"))
			unknownTimes = append(unknownTimes, measure(unknown, pw))
		}
	}
	if calls, _ := hasher.take(); calls != (hashCalls{Verify: n, VerifyDummy: n}) {
		t.Errorf("hashing calls over the measurement = %+v, want %d Verify and %d VerifyDummy", calls, n, n)
	}
	u, w := summarize(unknownTimes), summarize(wrongTimes)
	t.Logf("argon2id m=%d KiB, t=%d, p=%d; %d logins each, interleaved, over HTTPS on loopback", params.Memory, params.Iterations, params.Parallelism, n)
	t.Logf("unknown email:  mean %s, median %s, min %s, max %s", u.mean, u.median, u.min, u.max)
	t.Logf("wrong password: mean %s, median %s, min %s, max %s", w.mean, w.median, w.min, w.max)
	t.Logf("mean difference (wrong password - unknown email): %s (%.1f%%)", w.mean-u.mean,
		100*float64(w.mean-u.mean)/float64(u.mean))
	if r := float64(w.median) / float64(u.median); !raceEnabled() && (r < 0.5 || r > 2) {
		t.Errorf("median wrong-password time is %.2f× the unknown-email time; want 0.5 to 2 (%s vs %s)", r, w.median, u.median)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

type timings struct{ mean, median, min, max time.Duration }

func summarize(ds []time.Duration) timings {
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return timings{
		mean:   (sum / time.Duration(len(s))).Round(10 * time.Microsecond),
		median: s[len(s)/2].Round(10 * time.Microsecond),
		min:    s[0].Round(10 * time.Microsecond),
		max:    s[len(s)-1].Round(10 * time.Microsecond),
	}
}
