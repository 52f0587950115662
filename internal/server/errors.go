package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// This file is the one place where errors become status codes and pages.
// People see plain words; the log gets the detail.

// handlerFunc is a handler that returns its failure instead of answering
// it; handle turns the error into the response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.HandlerFunc (pkgsite's errorHandler): when h
// returns an error, nothing has been written yet and serverError answers it
// from the table in this file.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.serverError(w, r, err)
		}
	}
}

// retryAfterSeconds is the Retry-After value sent with 503 answers.
const retryAfterSeconds = "2"

// serverError answers an unexpected error. Known dependency failures get
// 503 with Retry-After (the store, the hashing pool or the password
// strength pool is overloaded or down: trying again later helps); anything else is a logged 500.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, session.ErrGone):
		// The session was revoked while this request ran (e.g. an admin kill
		// during re-authentication): the person is signed out; nothing was done.
		s.log.Info("session ended during the request", "route", r.URL.Path, "client_ip", clientIP(r))
		s.redirectToLogin(w, r)
	case errors.Is(err, session.ErrUnavailable):
		s.log.Error("session store unavailable", "route", r.URL.Path, "err", err)
		s.unavailable(w, r, "Latch cannot reach its session store right now. Your sign-in is safe; please try again in a few seconds.")
	case errors.Is(err, throttle.ErrUnavailable):
		s.log.Error("throttle counters unavailable", "route", r.URL.Path, "err", err)
		s.unavailable(w, r, "Latch cannot check sign-in attempts right now. Please try again in a few seconds.")
	case errors.Is(err, fail.Unavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The SQL store's driver marks a database that is down, slow or
		// busy as fail.Unavailable; a bare context error is database/sql's
		// own (the operation's time ran out waiting for a pooled connection).
		s.log.Error("database unavailable", "route", r.URL.Path, "err", err)
		s.unavailable(w, r, "Latch cannot reach its database right now. Please try again in a few seconds.")
	case errors.Is(err, password.ErrBusy):
		s.log.Warn("password hashing saturated", "route", r.URL.Path)
		s.unavailable(w, r, "Latch is busy checking other sign-ins. Please try again in a few seconds.")
	case errors.Is(err, user.ErrStrengthBusy):
		s.log.Warn("password strength checks saturated", "route", r.URL.Path)
		s.unavailable(w, r, "Latch is busy checking other new passwords. Please try again in a few seconds.")
	default:
		s.log.Error("internal error", "route", r.URL.Path, "method", r.Method, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "Something went wrong on our side. It has been logged; please try again.")
	}
}

// unavailable answers 503 with Retry-After.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	s.renderError(w, r, http.StatusServiceUnavailable, msg)
}

// tooManyAttempts answers 429 (RFC 6585) for a throttled login or
// registration: Retry-After is wait in whole seconds, rounded up, at least 1,
// and the page says the same in plain words.
func (s *Server) tooManyAttempts(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	n := waitSeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(n))
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	s.clientError(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many attempts. Try again in %d %s.", n, unit))
}

// waitSeconds is d in whole seconds, rounded up, at least 1.
func waitSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// sessionError is the session manager's OnError.
func (s *Server) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, session.ErrMalformedCookie) {
		s.clientError(w, r, http.StatusBadRequest,
			"Your browser sent a session cookie that Latch did not issue. It has been removed; reload the page to continue.")
		return
	}
	s.serverError(w, r, err)
}

// clientError answers a 4xx with an error page.
func (s *Server) clientError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.renderError(w, r, status, msg)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.clientError(w, r, http.StatusNotFound, "There is no page at this address.")
}

// methodNotAllowed answers 405 with the Allow header RFC 9110 §15.5.6
// requires, listing the methods routes has for this path.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, routes chi.Routes) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		method := m
		if m == http.MethodHead {
			method = http.MethodGet // middleware.GetHead answers HEAD with the GET route
		}
		if routes.Match(chi.NewRouteContext(), method, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.clientError(w, r, http.StatusMethodNotAllowed, "This page does not accept that kind of request.")
}

// parseForm parses an urlencoded POST body and rejects bodies that are too
// large (413), malformed (400), not valid UTF-8 or holding a NUL byte
// (400: no store can keep either, and PostgreSQL answers an error). It
// reports whether the handler may go on; when not, the response has been
// written. limitBody calls it for every POST on the dynamic routes, before
// the session is loaded, so no handler sees such a field.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.clientError(w, r, http.StatusRequestEntityTooLarge, "The form you sent is too large.")
			return false
		}
		s.clientError(w, r, http.StatusBadRequest, "The form you sent could not be read. Reload the page and try again.")
		return false
	}
	if !cleanValues(r.Form) {
		s.clientError(w, r, http.StatusBadRequest,
			"The form contains a character that is not allowed (a NUL byte, or text that is not valid UTF-8). Remove it and try again.")
		return false
	}
	return true
}
