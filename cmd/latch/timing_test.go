package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/server"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
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

func (h *countingHasher) CheaperThanCurrent(encoded string) bool {
	return h.inner.CheaperThanCurrent(encoded)
}

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
	h := newHasherApp(t, params)
	return &testApp{t: t, app: h.app, srv: h.srv, clock: h.clock, logs: h.logs, cfg: h.cfg}, h.hasher
}

// hasherApp is what newHasherApp starts.
type hasherApp struct {
	app    *app
	hasher *countingHasher
	srv    *httptest.Server
	clock  *clocktest.Clock
	logs   *syncBuffer
	cfg    config.Config
}

// newHasherApp is startAppWithHasher for tests and benchmarks alike.
func newHasherApp(tb testing.TB, params password.Params) hasherApp {
	tb.Helper()
	cfg := testConfig(tb, backend{name: "sqlite embedded"})
	clock := clocktest.New(time.Now())
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := store.Open(tb.Context(), cfg.DatabaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	a := &app{cfg: cfg, log: log, db: db}
	tb.Cleanup(a.Close)
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	hasher := &countingHasher{inner: password.NewHasher(params, 0, 0)}
	sessions := sessionManager(cfg, session.NewSQLStore(db.SQL(), db.Dialect(), 2*time.Second), clock.Now)
	a.server, err = server.New(server.Config{
		Accounts:     accountService(db, sessions.Registry(), hasher, user.NewStrengthChecker(user.StrengthOptions{}), clock.Now, log, nil),
		Log:          log,
		Users:        db,
		Audit:        db,
		Devices:      db,
		Passwords:    hasher,
		Sessions:     sessions,
		Templates:    web.Templates,
		Static:       web.Static,
		Clock:        clock.Now,
		ReauthWindow: cfg.ReauthWindow,
	})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewTLSServer(a.server.Handler())
	tb.Cleanup(func() {
		srv.Close()
		if tb.Failed() {
			tb.Logf("server log:\n%s", logs.String())
		}
	})
	return hasherApp{app: a, hasher: hasher, srv: srv, clock: clock, logs: logs, cfg: cfg}
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
		{"unknown email", unknown, pw, hashCalls{VerifyDummy: 1, PadFailure: 1}, nil},
		{"wrong password", email, pw + "!", hashCalls{Verify: 1, PadFailure: 1}, []string{stored.PasswordHash}},
		{"disabled account, right password", disabledEmail, pw, hashCalls{Verify: 1, PadFailure: 1}, nil},
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

// TestLoginFailuresForOtherHashCosts is the regression test of issue 12
// item 5: a failed login at an account whose stored hash has other costs
// than the current parameters does at least an unknown email's work, and
// is padded like every failure. An argon2id hash with older, cheaper
// parameters also pays the dummy verification (current cost); a bcrypt
// import is verified once and the failure padded (PadFailure: a timer up
// to the slowest kind's recent average, computed and tested in
// internal/password). The work is counted, not timed.
func TestLoginFailuresForOtherHashCosts(t *testing.T) {
	current := password.Params{Memory: 128, Iterations: 1, Parallelism: 1}
	ta, hasher := startAppWithHasher(t, current)
	oldEmail, pw := ta.newUser("Older")
	bcryptEmail, _ := ta.newUser("Imported")
	oldHash, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1}, 1, 0).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for email, h := range map[string]string{oldEmail: oldHash, bcryptEmail: string(raw)} {
		u, err := ta.app.db.UserByEmail(t.Context(), email)
		if err != nil {
			t.Fatal(err)
		}
		if err := ta.app.db.SetPasswordHash(t.Context(), u.ID, h); err != nil {
			t.Fatal(err)
		}
	}
	hasher.take()
	b := ta.newBrowser()
	tests := []struct {
		name  string
		email string
		want  hashCalls
	}{
		{"unknown email", "nobody@example.com", hashCalls{VerifyDummy: 1, PadFailure: 1}},
		{"older, cheaper argon2id", oldEmail, hashCalls{Verify: 1, VerifyDummy: 1, PadFailure: 1}},
		{"bcrypt import", bcryptEmail, hashCalls{Verify: 1, PadFailure: 1}},
	}
	for _, tt := range tests {
		failedLogin(t, b, tt.email, pw+"!")
		if got, _ := hasher.take(); got != tt.want {
			t.Errorf("%s: hashing calls = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// BenchmarkLoginFailureTimes measures the response time of failed logins
// with the real (OWASP) argon2id parameters: an unknown email, a wrong
// password at a current account, at an account with older cheaper argon2id
// costs and at a bcrypt import (cost 10), interleaved round-robin so that
// drift in the machine's load affects all alike; throttling is off (a zero
// server.Throttle). It reports each kind's median in ms; they should be
// close (padding makes every failure wait for the slowest kind's recent
// average). Run:
//
//	go test ./cmd/latch -run '^$' -bench BenchmarkLoginFailureTimes -benchtime 40x
func BenchmarkLoginFailureTimes(b *testing.B) {
	h := newHasherApp(b, password.DefaultParams())
	const pw = "correct horse battery staple"
	mk := func(name string, hash string) string {
		email := name + "@example.com"
		if hash == "" {
			var err error
			if hash, err = h.hasher.inner.Hash(b.Context(), pw); err != nil {
				b.Fatal(err)
			}
		}
		if err := h.app.db.CreateUser(b.Context(), &user.User{Email: email, Name: name, PasswordHash: hash, Role: user.RoleUser}); err != nil {
			b.Fatal(err)
		}
		return email
	}
	old, err := password.NewHasher(password.Params{Memory: 4096, Iterations: 1, Parallelism: 1}, 1, 0).Hash(b.Context(), pw)
	if err != nil {
		b.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
	if err != nil {
		b.Fatal(err)
	}
	kinds := []struct{ name, email string }{
		{"unknown", "nobody@example.com"},
		{"current", mk("current", "")},
		{"old-argon2", mk("older", old)},
		{"bcrypt10", mk("imported", string(bc))},
	}
	client := h.srv.Client()
	measure := func(email string) time.Duration {
		form := url.Values{"email": {email}, "password": {pw + "!"}}
		start := time.Now()
		resp, err := client.PostForm(h.srv.URL+"/login", form)
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			b.Fatalf("login %q: status %d, want 401", email, resp.StatusCode)
		}
		return d
	}
	for _, k := range kinds { // warm up: connection, templates, the padding's averages
		measure(k.email)
	}
	times := make([][]time.Duration, len(kinds))
	b.ResetTimer()
	for i := range b.N {
		for j := range kinds {
			k := (i + j) % len(kinds) // rotate who goes first
			times[k] = append(times[k], measure(kinds[k].email))
		}
	}
	b.StopTimer()
	for k, kind := range kinds {
		s := summarize(times[k])
		b.ReportMetric(float64(s.median)/float64(time.Millisecond), kind.name+"-median-ms")
	}
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
