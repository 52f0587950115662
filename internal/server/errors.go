package server

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// This file is the one place where errors become status codes and pages:
// answerOf is the table from an error's kind (internal/fail) to the status,
// the page's words (a message ID of the catalogue, web/locales) and the log line's level, for 4xx and 5xx alike. People
// see plain words; the log gets the detail. Handlers return their failure
// (through handle) instead of answering it; a handler that re-renders its
// form with a message next to a field takes the form's status from here
// too (statusOf).

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

// Errors the server itself returns, each with its row in answerOf.
var (
	errFormTooLarge   = fail.New(fail.Invalid, "server: form larger than the limit")
	errFormUnreadable = fail.New(fail.Invalid, "server: form could not be parsed")
	errFormText       = fail.New(fail.Invalid, "server: NUL or invalid UTF-8 in a form field")
	errURLText        = fail.New(fail.Invalid, "server: NUL or invalid UTF-8 in the URL")
	errMethod         = fail.New(fail.Invalid, "server: method not allowed")
	errNoPage         = fail.New(fail.NotFound, "server: no such page")
	errCrossOrigin    = fail.New(fail.Forbidden, "server: cross-origin request rejected")
	errCSRF           = fail.New(fail.Forbidden, "server: csrf token rejected")
	errNotAdmin       = fail.New(fail.Forbidden, "server: admin page refused")
	errNoAccount      = fail.New(fail.NotFound, "server: malformed account number")
	errBadPage        = fail.New(fail.Invalid, "server: page number not understood")
	errPastLastPage   = fail.New(fail.NotFound, "server: page past the last of the list")
	errBadCursor      = fail.New(fail.Invalid, "server: page cursor not understood")
	errFilter         = fail.New(fail.Invalid, "server: list filter not understood")
)

// retryAfterSeconds is the Retry-After value sent with 503 answers whose
// error carries no hint of its own (fail.RetryAfterOf).
const retryAfterSeconds = "2"

// answer is one row of the table: how the site answers an error.
type answer struct {
	status     int        // the HTTP status
	message    string     // what the person is shown: a message ID of the catalogue (web/locales)
	args       []any      // the message's template data, name-value pairs (locale.Catalog.T)
	level      slog.Level // of the log line; 4xx answers are never logged at error level
	log        string     // the log line's message
	retryAfter string     // the Retry-After header in seconds; "" for none
	toLogin    bool       // the session ended: 303 to /login instead of a page
}

// answerOf is THE table from an error to its answer. The kind
// (fail.KindOf) picks the row; within a kind, some sentinels have rows of
// their own (per-cause words, 413 and 422 for form input, the session that
// ended). A message attached by the handler (withMessage) replaces the
// row's words, never its status.
func (s *Server) answerOf(err error) answer {
	a := s.kindAnswer(err)
	var m *messageError
	if errors.As(err, &m) {
		a.message, a.args = m.message, m.args
	}
	return a
}

// kindAnswer is answerOf without the handler's words.
func (s *Server) kindAnswer(err error) answer {
	switch fail.KindOf(err) {
	case fail.Invalid:
		switch {
		case errors.Is(err, errFormTooLarge):
			return clientAnswer(http.StatusRequestEntityTooLarge, slog.LevelInfo, "error.form_too_large")
		case errors.Is(err, errFormUnreadable):
			return clientAnswer(http.StatusBadRequest, slog.LevelInfo, "error.form_unreadable")
		case errors.Is(err, errFormText):
			return clientAnswer(http.StatusBadRequest, slog.LevelInfo, "error.form_text")
		case errors.Is(err, errURLText):
			return clientAnswer(http.StatusBadRequest, slog.LevelInfo, "error.url_text")
		case errors.Is(err, errAPIContentType):
			return clientAnswer(http.StatusUnsupportedMediaType, slog.LevelInfo, "error.api_content_type")
		case errors.Is(err, errMethod): // methodNotAllowed sets the Allow header RFC 9110 §15.5.6 requires
			return clientAnswer(http.StatusMethodNotAllowed, slog.LevelDebug, "error.method")
		case errors.Is(err, session.ErrMalformedCookie):
			return clientAnswer(http.StatusBadRequest, slog.LevelInfo, "error.malformed_cookie")
		case errors.Is(err, user.ErrInvalid), errors.Is(err, locale.ErrUnknownZone): // a field of a form (user.ValidationError, the profile's time zone): the form is shown again
			return clientAnswer(http.StatusUnprocessableEntity, slog.LevelDebug, "error.invalid_input")
		}
		return clientAnswer(http.StatusBadRequest, slog.LevelInfo, "error.bad_request")
	case fail.NotFound:
		return clientAnswer(http.StatusNotFound, slog.LevelDebug, "error.not_found")
	case fail.Conflict:
		if errors.Is(err, user.ErrEmailTaken) { // the registration form's email field
			return clientAnswer(http.StatusUnprocessableEntity, slog.LevelDebug, "register.email_taken")
		}
		return clientAnswer(http.StatusConflict, slog.LevelInfo, "error.conflict")
	case fail.Unauthorized:
		if errors.Is(err, session.ErrGone) {
			// The session was revoked while this request ran (e.g. an admin kill
			// during re-authentication): the person is signed out; nothing was done.
			return answer{status: http.StatusSeeOther, level: slog.LevelInfo, log: "session ended during the request", toLogin: true}
		}
		return clientAnswer(http.StatusUnauthorized, slog.LevelInfo, "error.unauthorized")
	case fail.Forbidden:
		return clientAnswer(http.StatusForbidden, slog.LevelWarn, forbiddenMessage(err))
	case fail.Throttled:
		// RFC 6585: Retry-After in whole seconds, rounded up, at least 1;
		// the page says the same. Refusals are logged (sampled) where they
		// are decided (refuseLogin), so that an attack cannot flood the log.
		n := waitSeconds(fail.RetryAfterOf(err))
		a := clientAnswer(http.StatusTooManyRequests, slog.LevelDebug, "error.throttled")
		a.args = []any{"Count", n}
		a.retryAfter = strconv.Itoa(n)
		return a
	case fail.Unavailable:
		switch {
		case errors.Is(err, session.ErrNotReplicated): // before ErrUnavailable, which it comes with
			// A revocation (or the hold of an account change) that no Redis
			// replica confirmed: it may have run on the master only.
			return unavailableAnswer(err, slog.LevelError, "revocation not replicated",
				"error.not_replicated")
		case errors.Is(err, session.ErrUnavailable), errors.Is(err, user.ErrStateCopyNotWritten):
			return unavailableAnswer(err, slog.LevelError, "session store unavailable",
				"error.session_store")
		case errors.Is(err, throttle.ErrUnavailable):
			return unavailableAnswer(err, slog.LevelError, "throttle counters unavailable",
				"error.throttle_store")
		}
		return unavailableAnswer(err, slog.LevelError, "database unavailable", msgDatabaseUnavailable)
	case fail.Busy:
		switch {
		case errors.Is(err, password.ErrBusy):
			return unavailableAnswer(err, slog.LevelWarn, "password hashing saturated",
				"error.hash_busy")
		case errors.Is(err, user.ErrStrengthBusy):
			return unavailableAnswer(err, slog.LevelWarn, "password strength checks saturated",
				"error.strength_busy")
		}
		return unavailableAnswer(err, slog.LevelWarn, "server busy", "error.busy")
	}
	// The SQL store's driver marks a database that is down, slow or busy as
	// fail.Unavailable (above); a bare context error is database/sql's own:
	// the operation's time ran out waiting for a pooled connection.
	// So are database/sql's own driver.ErrBadConn (all its retries met a
	// broken connection: "driver: bad connection") and sql.ErrConnDone,
	// which it returns without going through the store's driver.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return unavailableAnswer(err, slog.LevelError, "database unavailable", msgDatabaseUnavailable)
	}
	return answer{status: http.StatusInternalServerError, level: slog.LevelError, log: "internal error",
		message: "error.internal"}
}

// msgDatabaseUnavailable is the page (message ID) for a database that is
// down or slow.
const msgDatabaseUnavailable = "error.database"

// clientAnswer is a 4xx row; message is a message ID of the catalogue.
func clientAnswer(status int, level slog.Level, message string) answer {
	return answer{status: status, level: level, log: "request refused", message: message}
}

// unavailableAnswer is a 503 row (a dependency is down, or a bounded pool
// is full: trying again later helps), with Retry-After from err's hint or
// retryAfterSeconds.
func unavailableAnswer(err error, level slog.Level, log, message string) answer {
	a := answer{status: http.StatusServiceUnavailable, level: level, log: log, message: message, retryAfter: retryAfterSeconds}
	if d := fail.RetryAfterOf(err); d > 0 {
		a.retryAfter = strconv.Itoa(waitSeconds(d))
	}
	return a
}

// forbiddenMessage is the 403 page's words (message ID) for err.
func forbiddenMessage(err error) string {
	switch {
	case errors.Is(err, errCrossOrigin):
		return "error.cross_origin"
	case errors.Is(err, errCSRF):
		return "error.csrf"
	case errors.Is(err, errNotAdmin):
		return "error.not_admin"
	}
	return "error.forbidden"
}

// statusOf is the HTTP status the table gives err: for a handler that
// answers a failure by showing its form again with a message next to a
// field (422 for user.ErrInvalid and user.ErrEmailTaken, 401 for a wrong
// password, …).
func (s *Server) statusOf(err error) int { return s.answerOf(err).status }

// messageError attaches what the person is shown to an error (withMessage).
type messageError struct {
	err     error
	message string // a message ID of the catalogue
	args    []any  // its template data
}

func (e *messageError) Error() string { return e.err.Error() }
func (e *messageError) Unwrap() error { return e.err }

// withMessage returns err with message (a message ID of the catalogue,
// with its template data args as name-value pairs) as the words of its
// error page, for a handler that knows better than its kind what went
// wrong ("devices.not_found": "None of your active sessions has this
// name"). The status stays the table's. withMessage(nil, …) is nil.
func withMessage(err error, message string, args ...any) error {
	if err == nil {
		return nil
	}
	return &messageError{err: err, message: message, args: args}
}

// serverError answers err from the table (answerOf): it logs one line at
// the row's level (route, client IP, the principal's ID when there is one,
// the error's detail) and writes the page, with Retry-After for 429 and
// 503, or sends the person to log in when the session ended.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if isAPIPath(r) { // the JSON API answers the same table as problem details (api_errors.go)
		s.apiError(w, r, err)
		return
	}
	a := s.answerOf(err)
	attrs := []any{"route", logRoute(r), "client_ip", clientIP(r), "status", a.status,
		"kind", fail.KindOf(err).String(), "err", err}
	if a.status >= 500 {
		attrs = append(attrs, "method", r.Method)
	}
	if u := currentUser(r.Context()); u != nil {
		attrs = append(attrs, "user_id", u.ID)
	}
	s.log.Log(r.Context(), a.level, a.log, attrs...)
	if a.toLogin {
		s.redirectToLogin(w, r)
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	s.renderError(w, r, a.status, a.message, a.args...)
}

// waitSeconds is d in whole seconds, rounded up, at least 1.
func waitSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// sessionError is the session manager's OnError: the table answers it
// (session.ErrMalformedCookie: 400; session.ErrUnavailable: 503).
func (s *Server) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	s.serverError(w, r, err)
}

// notFound answers 404 (the router's NotFound handler), in the API's
// words on /api/*.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if isAPIPath(r) {
		s.serverError(w, r, withMessage(errNoPage, apiNotFoundMessage))
		return
	}
	s.serverError(w, r, errNoPage)
}

// methodNotAllowed answers 405 with the Allow header RFC 9110 §15.5.6
// requires, listing the methods routes has for this path; in the API's
// words on /api/*.
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
	if isAPIPath(r) {
		s.serverError(w, r, withMessage(errMethod, apiMethodMessage))
		return
	}
	s.serverError(w, r, errMethod)
}

// parseForm parses an urlencoded POST body and rejects bodies that are too
// large (errFormTooLarge: 413), malformed (errFormUnreadable: 400), not
// valid UTF-8 or holding a NUL byte (errFormText, 400: no store can keep
// either, and PostgreSQL answers an error). It writes nothing; the caller
// returns the error to the table. limitBody calls it for every POST on the
// dynamic routes, before the session is loaded, so no handler sees such a
// field; parsing again is a no-op.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: %w", errFormTooLarge, err)
		}
		// Not the parser's error: it quotes the form's text, which may hold
		// a password, and the error is logged.
		return errFormUnreadable
	}
	if !cleanValues(r.Form) {
		return errFormText
	}
	return nil
}
