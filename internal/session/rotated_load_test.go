package session_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/latch/latch/internal/redisconn/clustertest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
)

// TestRotatedTokenAtLoad: a request with a token that a re-authentication
// rotated a moment ago (sent before the browser had the new cookie, and
// arriving after the rotation) finds no session, but the store's rotation
// marker says why: the Manager reports RotatedAway, not Expired, and sets
// no cookie, so the browser keeps the new one, which works. Once the
// rotated session is gone too, the old token is an ended session again:
// Expired, and the cookie is cleared.
//
// On Redis Cluster the marker is read by the find script from the session
// key's node: it shares the session's hash tag (rediskeys.go).
func TestRotatedTokenAtLoad(t *testing.T) {
	stores := sessionStores()
	stores["cluster"] = func(t *testing.T) session.Store {
		src, _ := clustertest.Start(t)
		return session.NewRedisStore(src, sessiontest.Prefix(t), 5*time.Second)
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			a := newRaceApp(t, st, 0, 1)
			_, c := a.send(t, http.MethodPost, "/login", "")
			if c == nil || c.Value == "" {
				t.Fatal("login set no session cookie")
			}
			old := c.Value
			body, c := a.send(t, http.MethodPost, "/reauth", old)
			if body != "ok" || c == nil || c.Value == "" || c.Value == old {
				t.Fatalf("reauthenticate: %q, cookie %v; want ok with a new token", body, c)
			}
			renewed := c.Value

			body, c = a.send(t, http.MethodGet, "/rotated", old)
			if body != "0 rotated=true expired=false" || c != nil {
				t.Errorf("old token after the rotation: %q, cookie %v; want anonymous, rotated, no cookie", body, c)
			}
			if body, _ := a.send(t, http.MethodGet, "/whoami", renewed); body != "42" {
				t.Errorf("new token after the old one was replayed: user %q, want 42", body)
			}

			if err := st.DeleteCtx(t.Context(), renewed); err != nil { // the rotated session is revoked
				t.Fatal(err)
			}
			body, c = a.send(t, http.MethodGet, "/rotated", old)
			if body != "0 rotated=false expired=true" || c == nil || c.Value != "" || c.MaxAge >= 0 {
				t.Errorf("old token once the rotated session is gone: %q, cookie %v; want expired and the cookie cleared", body, c)
			}
		})
	}
}
