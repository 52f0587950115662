package session_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latch/latch/internal/session"
)

// TestWithHTTPHooks: a Manager built without HTTP hooks (as cmd/latch
// builds it) answers a store failure with a plain 503; the copy the HTTP
// layer mounts with WithHTTPHooks answers through its OnError, and the
// original is unchanged.
func TestWithHTTPHooks(t *testing.T) {
	base := session.NewManager(session.Options{
		Store: failingStore{}, IdleTimeout: idle, AbsoluteTimeout: absolute,
		RememberIdleTimeout: remIdle, RememberAbsoluteTimeout: remAbsolute,
	})
	login := func(m *session.Manager) http.Handler {
		return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := m.Login(r.Context(), 1, false); err != nil {
				t.Fatal(err)
			}
			http.Redirect(w, r, "/profile", http.StatusSeeOther)
		}))
	}

	var gotErr error
	mounted := base.WithHTTPHooks(session.HTTPHooks{
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			gotErr = err
			http.Error(w, "site page", http.StatusTeapot)
		},
	})
	rec := httptest.NewRecorder()
	login(mounted).ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	if rec.Code != http.StatusTeapot || !errors.Is(gotErr, session.ErrUnavailable) {
		t.Errorf("mounted copy: status %d, err %v; want its OnError's answer for ErrUnavailable", rec.Code, gotErr)
	}

	gotErr = nil
	rec = httptest.NewRecorder()
	login(base).ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || gotErr != nil {
		t.Errorf("manager without hooks: status %d (Retry-After %q), hook called %v; want a plain 503 with Retry-After",
			rec.Code, rec.Header().Get("Retry-After"), gotErr != nil)
	}
	if base.Secure() != mounted.Secure() || base.CookieName() != mounted.CookieName() {
		t.Error("the mounted copy has other cookie settings")
	}
}
