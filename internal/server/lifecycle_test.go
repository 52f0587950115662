package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/web"
)

// lifecycleServer is a Server on a real embedded store (SQLite in a temp
// dir) whose readiness check is health, trusting the proxies in trusted
// (CIDRs); logs go to the returned buffer.
func lifecycleServer(t *testing.T, health func(context.Context) error, readyTimeout time.Duration, trusted ...string) (*Server, *syncBuffer) {
	t.Helper()
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var nets []net.IPNet
	for _, c := range trusted {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, *n)
	}
	logs := &syncBuffer{}
	cfg := Config{
		Log:       slog.New(slog.NewJSONHandler(logs, nil)),
		Users:     db,
		Audit:     db,
		Passwords: &fakeHasher{},
		Sessions: session.NewManager(session.Options{
			Store:       session.NewSQLStore(db.SQL(), db.Dialect(), time.Second),
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
			RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
		}),
		Templates:      web.Templates,
		Static:         web.Static,
		Health:         health,
		ReadyTimeout:   readyTimeout,
		TrustedProxies: nets,
	}
	cfg.Accounts = testAccounts(cfg, user.NewStrengthChecker(user.StrengthOptions{}))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func getStatus(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// TestReadyzAndHealthz: /readyz follows the dependencies and turns 503 for
// good when shutdown begins; /healthz (liveness) answers 200 throughout.
func TestReadyzAndHealthz(t *testing.T) {
	var depErr error
	s, _ := lifecycleServer(t, func(context.Context) error { return depErr }, 0)
	h := s.Handler()

	if code, body := getStatus(t, h, "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("readyz with dependencies up: %d %q, want 200 ready", code, body)
	}
	depErr = errors.New("redis: connection refused")
	if code, _ := getStatus(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with a dependency down: %d, want 503", code)
	}
	if code, body := getStatus(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz with a dependency down: %d %q, want 200 ok (liveness only)", code, body)
	}
	depErr = nil
	if code, _ := getStatus(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("readyz after the dependency is back: %d, want 200", code)
	}

	if watched := s.BeginShutdown(); !watched {
		t.Error("BeginShutdown: watched = false after /readyz was asked")
	}
	for i := range 3 {
		if code, body := getStatus(t, h, "/readyz"); code != http.StatusServiceUnavailable || body != "shutting down\n" {
			t.Errorf("readyz %d after BeginShutdown: %d %q, want 503 shutting down", i, code, body)
		}
	}
	if code, _ := getStatus(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("healthz after BeginShutdown: %d, want 200", code)
	}
	if code, _ := getStatus(t, h, "/login"); code != http.StatusOK {
		t.Errorf("GET /login after BeginShutdown: %d, want 200 (pages are served while draining)", code)
	}
}

// TestReadyzUnwatched: BeginShutdown reports that no balancer is watching
// when /readyz was never asked (the drain is then skipped).
func TestReadyzUnwatched(t *testing.T) {
	s, _ := lifecycleServer(t, nil, 0)
	getStatus(t, s.Handler(), "/healthz")
	if s.BeginShutdown() {
		t.Error("BeginShutdown: watched = true though /readyz was never asked")
	}
}

// TestReadyzBounded: the readiness check runs with ReadyTimeout as its
// deadline, and a dependency that never answers (a black-holed Redis)
// makes /readyz answer 503 when that deadline passes instead of hanging.
func TestReadyzBounded(t *testing.T) {
	const bound = 10 * time.Second
	var deadline time.Duration
	s, _ := lifecycleServer(t, func(ctx context.Context) error {
		if d, ok := ctx.Deadline(); ok {
			deadline = time.Until(d)
		}
		return nil
	}, bound)
	getStatus(t, s.Handler(), "/readyz")
	if deadline <= 0 || deadline > bound {
		t.Errorf("health check deadline %v ahead, want within (0, %v]", deadline, bound)
	}

	s, _ = lifecycleServer(t, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, 20*time.Millisecond)
	if code, _ := getStatus(t, s.Handler(), "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with a dependency that never answers: %d, want 503", code)
	}
}

// TestRequestID: the response and the request log line carry the same ID;
// X-Request-ID is taken only from a trusted proxy and only when it is a
// sane token, else a fresh 32-hex-digit ID is made.
func TestRequestID(t *testing.T) {
	s, logs := lifecycleServer(t, nil, 0, "10.0.0.0/8")
	h := s.Handler()
	long := strings.Repeat("a", maxRequestIDLen+1)
	for _, tc := range []struct {
		name   string
		peer   string
		header string
		want   string // "" = a generated ID
	}{
		{"trusted proxy, sane ID", "10.1.2.3:5555", "haproxy-7f3a:0001", "haproxy-7f3a:0001"},
		{"trusted proxy, UUID", "10.1.2.3:5555", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
		{"trusted proxy, no header", "10.1.2.3:5555", "", ""},
		{"untrusted peer, sane ID", "192.0.2.7:5555", "abc123", ""},
		{"trusted proxy, log injection", "10.1.2.3:5555", "x\" \"status\":200 \"user_id\":1", ""},
		{"trusted proxy, newline", "10.1.2.3:5555", "a\nmsg=forged", ""},
		{"trusted proxy, too long", "10.1.2.3:5555", long, ""},
		{"trusted proxy, non-ASCII", "10.1.2.3:5555", "idé", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.String())
			req := httptest.NewRequest(http.MethodGet, "/login", nil)
			req.RemoteAddr = tc.peer
			if tc.header != "" {
				req.Header.Set("X-Request-ID", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-ID")
			if tc.want != "" && got != tc.want {
				t.Errorf("X-Request-ID %q, want the proxy's %q", got, tc.want)
			}
			if tc.want == "" && (len(got) != 32 || strings.Trim(got, "0123456789abcdef") != "" || got == tc.header) {
				t.Errorf("X-Request-ID %q, want a fresh 32-hex-digit ID", got)
			}
			line := ""
			for _, l := range strings.Split(logs.String()[before:], "\n") {
				if strings.Contains(l, `"msg":"request"`) {
					line = l
				}
			}
			if !strings.Contains(line, `"request_id":"`+got+`"`) {
				t.Errorf("request log line does not carry request_id %q:\n%s", got, line)
			}
			if strings.Contains(line, "forged") || strings.Contains(line, `\"user_id\":1`) {
				t.Errorf("client text reached the log: %s", line)
			}
		})
	}

	// Any line logged with the request's context carries the ID too: a
	// failed readiness check's warning, beside its request line.
	s, logs = lifecycleServer(t, func(context.Context) error { return errors.New("database: down") }, 0)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	id := rec.Header().Get("X-Request-ID")
	for _, msg := range []string{"readiness check failed", "request"} {
		found := false
		for _, l := range strings.Split(logs.String(), "\n") {
			found = found || (strings.Contains(l, `"msg":"`+msg+`"`) && strings.Contains(l, `"request_id":"`+id+`"`))
		}
		if !found {
			t.Errorf("no %q line with request_id %q:\n%s", msg, id, logs.String())
		}
	}

	// Two requests without a header get different IDs.
	h = s.Handler()
	a, b := httptest.NewRecorder(), httptest.NewRecorder()
	h.ServeHTTP(a, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	h.ServeHTTP(b, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if a.Header().Get("X-Request-ID") == b.Header().Get("X-Request-ID") {
		t.Errorf("two requests got the same ID %q", a.Header().Get("X-Request-ID"))
	}
}
