package server

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/account"
)

// Metrics receives the site's counts for the Prometheus metrics
// (*metrics.Recorder implements it; Config.Metrics nil turns them off). The
// label values it is given are bounded: route patterns, the constants
// below, status codes.
type Metrics interface {
	// Request counts one answered request: route is its chi route pattern
	// (RouteUnmatched when none matched: never the raw path), status the
	// status code sent, d the time the handler chain took.
	Request(route, method string, status int, d time.Duration)
	// Login counts one POST /login by outcome (Login*).
	Login(outcome string)
	// SessionCreated counts one session created by a sign-in.
	SessionCreated()
	// SessionsRevoked counts n sessions this instance revoked, by cause
	// (Revoke*).
	SessionsRevoked(cause string, n int)
}

// RouteUnmatched is the route label of requests no route matched (404s,
// and 405s for a known path with another method).
const RouteUnmatched = "unmatched"

// Outcomes of a login attempt (Metrics.Login), read from the status of
// the POST /login response.
const (
	LoginSuccess        = "success"         // 303: signed in
	LoginBadCredentials = "bad_credentials" // 401: unknown email, wrong password or disabled account (one answer for all)
	LoginThrottled      = "throttled"       // 429: a login quota is full
	LoginUnavailable    = "unavailable"     // 503: Redis, the database or the hashing slots did not answer
	LoginInvalid        = "invalid"         // 4xx other than 401 and 429: an empty field, a bad form, a cross-site post
	LoginError          = "error"           // anything else (500)
)

// Causes of a revocation (Metrics.SessionsRevoked).
const (
	RevokeLogout = "logout" // the user logged out
	// The causes of the account operations, counted by internal/account
	// itself (account.Counter) for the pages, the API and the CLI alike.
	RevokeUser           = account.CauseUser
	RevokeAdmin          = account.CauseAdmin
	RevokeDisabled       = account.CauseDisabled
	RevokePasswordChange = account.CausePasswordChange
	RevokePasswordReset  = account.CausePasswordReset
	RevokeLimit          = "limit" // a login went over LATCH_MAX_SESSIONS_PER_USER (the oldest)
	RevokeStale          = "stale" // ended at its next request: account gone, disabled, or credentials changed
)

// noMetrics is Config.Metrics when it is nil.
type noMetrics struct{}

func (noMetrics) Request(string, string, int, time.Duration) {}
func (noMetrics) Login(string)                               {}
func (noMetrics) SessionCreated()                            {}
func (noMetrics) SessionsRevoked(string, int)                {}

// countRequest counts every request with its route pattern, method and
// status (Metrics.Request), and each POST /login by its outcome, read from
// the status the client got (loginOutcome): one place for every path
// through the login handler and its middleware, including a session write
// that failed after the handler answered. It runs outside recoverPanic, so
// a panic's 500 is counted too, and reads the pattern after routing: chi's
// route context is in the request's context before any middleware of the
// router runs. routes is the router, to tell a 404 of a route from one of
// no route. With Config.Metrics nil it adds nothing to the chain.
func (s *Server) countRequest(routes chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if _, off := s.metrics.(noMetrics); off {
			return next
		}
		return s.countRequests(routes, next)
	}
}

func (s *Server) countRequests(routes chi.Routes, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http sends 200
		}
		route := RouteUnmatched
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			if p := rctx.RoutePattern(); p != "" {
				route = p
			}
			// A 404 or 405 inside a sub-router (/admin/nope) carries the
			// mount's pattern ("/admin/*"); only a route that matches
			// keeps its pattern (a deliberate 404 such as an unknown
			// account on /admin/users/{id}).
			if (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) &&
				!routes.Match(chi.NewRouteContext(), r.Method, r.URL.Path) {
				route = RouteUnmatched
			}
		}
		s.metrics.Request(route, r.Method, status, time.Since(start))
		if route == "/login" && r.Method == http.MethodPost {
			s.metrics.Login(loginOutcome(status))
		}
	})
}

// loginOutcome maps the status of a POST /login to its outcome.
func loginOutcome(status int) string {
	switch {
	case status == http.StatusSeeOther:
		return LoginSuccess
	case status == http.StatusUnauthorized:
		return LoginBadCredentials
	case status == http.StatusTooManyRequests:
		return LoginThrottled
	case status == http.StatusServiceUnavailable:
		return LoginUnavailable
	case status >= 400 && status < 500:
		return LoginInvalid
	default:
		return LoginError
	}
}
