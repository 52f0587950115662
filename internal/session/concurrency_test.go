package session_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store/storetest"
)

// sessionStores returns a fresh real store of each kind: Redis, the
// embedded store on SQLite and on PostgreSQL.
func sessionStores() map[string]func(t *testing.T) session.Store {
	sqlStore := func(t *testing.T, url string) session.Store {
		db := session.OpenTestDB(t, url)
		return session.NewSQLStore(db.SQL(), db.Dialect(), 5*time.Second)
	}
	return map[string]func(t *testing.T) session.Store{
		"redis": func(t *testing.T) session.Store {
			return session.NewRedisStore(sessiontest.RedisPool(t), sessiontest.Prefix(t), 5*time.Second)
		},
		"sqlite": func(t *testing.T) session.Store {
			return sqlStore(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
		},
		"postgres": func(t *testing.T) session.Store { return sqlStore(t, storetest.PostgresURL(t)) },
	}
}

// raceApp is a Manager on st behind:
//
//	POST /login         Login as user 42
//	POST /reauth        waits until `parties` requests are in the handler
//	                    (their sessions loaded), then Reauthenticate; prints
//	                    "ok", "rotated" or "gone"
//	GET  /principal     "v<version> <role>" of Manager.Principal, or "none"
//	GET  /whoami        the user ID
//	GET  /rotated       "<user ID> rotated=<RotatedAway> expired=<Expired>"
type raceApp struct {
	mgr     *session.Manager
	srv     *httptest.Server
	barrier sync.WaitGroup
	held    chan struct{} // when set, /reauth signals here once loaded…
	release chan struct{} // … and waits for this before going on
	uid     int64         // who POST /login signs in (42)
	mu      sync.Mutex
	revoked []session.Record
}

func newRaceApp(t *testing.T, st session.Store, limit, parties int) *raceApp {
	t.Helper()
	a := &raceApp{uid: 42}
	a.barrier.Add(parties)
	a.mgr = session.NewManager(session.Options{
		Store:       st,
		IdleTimeout: idle, AbsoluteTimeout: absolute,
		RememberIdleTimeout: remIdle, RememberAbsoluteTimeout: remAbsolute,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		},
		MaxSessionsPerUser: limit,
		OnLimitRevoked: func(_ *http.Request, recs []session.Record) {
			a.mu.Lock()
			a.revoked = append(a.revoked, recs...)
			a.mu.Unlock()
		},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := a.mgr.Login(r.Context(), a.uid, false); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		if a.held != nil {
			a.held <- struct{}{}
			<-a.release
		} else {
			a.barrier.Done()
			a.barrier.Wait()
		}
		switch err := a.mgr.Reauthenticate(r.Context()); {
		case err == nil:
			fmt.Fprint(w, "ok")
		case errors.Is(err, session.ErrRotated):
			fmt.Fprint(w, "rotated")
		case errors.Is(err, session.ErrGone):
			fmt.Fprint(w, "gone")
		default:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /principal", func(w http.ResponseWriter, r *http.Request) {
		if u, ok := a.mgr.Principal(r.Context()); ok {
			fmt.Fprintf(w, "v%d %s", u.StateVersion, u.Role)
			return
		}
		fmt.Fprint(w, "none")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, a.mgr.UserID(r.Context()))
	})
	mux.HandleFunc("GET /rotated", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d rotated=%v expired=%v", a.mgr.UserID(r.Context()), a.mgr.RotatedAway(r.Context()), a.mgr.Expired(r.Context()))
	})
	a.srv = httptest.NewServer(a.mgr.Middleware(mux))
	t.Cleanup(a.srv.Close)
	return a
}

// send makes one request with the session cookie value token ("" = none)
// and returns the body and the session cookie the response set (nil if
// none).
func (a *raceApp) send(t *testing.T, method, path, token string) (string, *http.Cookie) {
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	if err != nil {
		t.Error(err)
		return "", nil
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: a.mgr.CookieName(), Value: token})
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Error(err)
		return "", nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.Name == a.mgr.CookieName() {
			return string(b), c
		}
	}
	return string(b), nil
}

// TestSessionLimitUnderParallelLogins is issue 12.6: with a limit of 2, 20
// parallel logins of one user leave exactly 2 live sessions, and every
// other one is reported as revoked by the limit.
func TestSessionLimitUnderParallelLogins(t *testing.T) {
	for name, newStore := range sessionStores() {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			a := newRaceApp(t, st, 2, 0)
			const logins = 20
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range logins {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if _, c := a.send(t, http.MethodPost, "/login", ""); c == nil || c.Value == "" {
						t.Error("a login set no session cookie")
					}
				}()
			}
			close(start)
			wg.Wait()
			recs, err := st.UserSessions(t.Context(), 42)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 {
				t.Errorf("%d live sessions after %d parallel logins with a limit of 2, want 2", len(recs), logins)
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if len(a.revoked) != logins-2 {
				t.Errorf("%d sessions reported revoked by the limit, want %d", len(a.revoked), logins-2)
			}
			for _, r := range recs {
				for _, gone := range a.revoked {
					if gone.Handle == r.Handle {
						t.Errorf("session %s reported revoked but alive", r.Handle)
					}
				}
			}
		})
	}
}

// TestParallelConfirmationsFollowTheWinner is issue 12.10: of two parallel
// re-authentications of one session, one rotates the token and sets the
// new cookie; the other learns that the session was rotated (not revoked),
// writes nothing and leaves the cookie alone, and the rotated session
// lives on. A revoked session still signs the browser out.
func TestParallelConfirmationsFollowTheWinner(t *testing.T) {
	for name, newStore := range sessionStores() {
		t.Run(name, func(t *testing.T) {
			a := newRaceApp(t, newStore(t), 0, 2)
			_, c := a.send(t, http.MethodPost, "/login", "")
			if c == nil {
				t.Fatal("login set no cookie")
			}
			old := c.Value
			type result struct {
				body   string
				cookie *http.Cookie
			}
			results := make(chan result, 2)
			for range 2 {
				go func() {
					body, cookie := a.send(t, http.MethodPost, "/reauth", old)
					results <- result{body, cookie}
				}()
			}
			var winner, loser result
			for range 2 {
				r := <-results
				switch r.body {
				case "ok":
					winner = r
				case "rotated":
					loser = r
				default:
					t.Errorf("a confirmation answered %q", r.body)
				}
			}
			if winner.body != "ok" || loser.body != "rotated" {
				t.Fatalf("want one ok and one rotated, got winner %q loser %q", winner.body, loser.body)
			}
			if loser.cookie != nil {
				t.Errorf("the loser set the session cookie %q (max-age %d); it must leave it alone", loser.cookie.Value, loser.cookie.MaxAge)
			}
			if winner.cookie == nil || winner.cookie.Value == "" || winner.cookie.Value == old {
				t.Fatalf("the winner set no new session cookie: %+v", winner.cookie)
			}
			if got, _ := a.send(t, http.MethodGet, "/whoami", winner.cookie.Value); got != "42" {
				t.Errorf("the rotated session answers %q, want 42", got)
			}
			if got, _ := a.send(t, http.MethodGet, "/whoami", old); got != "0" {
				t.Errorf("the old token still answers %q", got)
			}

			// A session revoked while the confirmation is in flight is gone,
			// not rotated: the cookie is cleared, as before.
			a.held, a.release = make(chan struct{}), make(chan struct{})
			done := make(chan result, 1)
			go func() {
				body, cookie := a.send(t, http.MethodPost, "/reauth", winner.cookie.Value)
				done <- result{body, cookie}
			}()
			<-a.held
			recs, err := a.mgr.Registry().UserSessions(t.Context(), 42)
			if err != nil || len(recs) != 1 {
				t.Fatalf("sessions of the user: %v %v", recs, err)
			}
			if _, _, err := a.mgr.Registry().Revoke(t.Context(), recs[0].Handle); err != nil {
				t.Fatal(err)
			}
			close(a.release)
			r := <-done
			if r.body != "gone" {
				t.Errorf("confirming in a revoked session answered %q, want gone", r.body)
			}
			if r.cookie == nil || r.cookie.MaxAge >= 0 {
				t.Errorf("a revoked session's cookie was not cleared: %+v", r.cookie)
			}
		})
	}
}
