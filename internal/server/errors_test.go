package server

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/slots"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// formError returns what parseForm makes of a POST with body, read
// through a MaxBytesReader of limit bytes (as limitBody does).
func formError(t *testing.T, body string, limit int64) error {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
	err := parseForm(r)
	if err == nil {
		t.Fatalf("parseForm(%q) = nil", body)
	}
	return err
}

// TestErrorTable answers one error of every kind (and every sentinel with
// a row of its own) through serverError, with the real templates, and
// checks the status, the Retry-After header, the page's words and the
// log level.
func TestErrorTable(t *testing.T) {
	a := newTestApp(t)
	dial := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter string // "" for no header
		page       string // part of the page ("" for a redirect)
		location   string // for a redirect
		level      slog.Level
	}{
		{"internal", errors.New("boom"), 500, "", "Something went wrong on our side", "", slog.LevelError},
		{"malformed hash is internal", fmt.Errorf("verify: %w", password.ErrMalformedHash), 500, "", "Something went wrong on our side", "", slog.LevelError},

		{"invalid", fail.New(fail.Invalid, "test: bad input"), 400, "", "Latch could not understand this request", "", slog.LevelInfo},
		{"form too large", formError(t, "a="+strings.Repeat("x", 100), 10), 413, "", "The form you sent is too large.", "", slog.LevelInfo},
		{"form unreadable", formError(t, "a=%zz", 1000), 400, "", "The form you sent could not be read.", "", slog.LevelInfo},
		{"form with NUL", formError(t, "a=%00", 1000), 400, "", "The form contains a character that is not allowed", "", slog.LevelInfo},
		{"URL with NUL", errURLText, 400, "", "The address of this page contains a character that is not allowed", "", slog.LevelInfo},
		{"method not allowed", errMethod, 405, "", "This page does not accept that kind of request.", "", slog.LevelDebug},
		{"malformed session cookie", session.ErrMalformedCookie, 400, "", "Your browser sent a session cookie that Latch did not issue.", "", slog.LevelInfo},
		{"field error", &user.ValidationError{Field: "email", Message: "Enter an email address"}, 422, "", "needs to be changed", "", slog.LevelDebug},
		{"empty login field", errLoginIncomplete, 422, "", "needs to be changed", "", slog.LevelDebug},
		{"unknown time zone", fmt.Errorf("profile: %w", locale.ErrUnknownZone), 422, "", "needs to be changed", "", slog.LevelDebug},

		{"not found", fmt.Errorf("admin user: %w", user.ErrNotFound), 404, "", "There is no page at this address.", "", slog.LevelDebug},
		{"no page", errNoPage, 404, "", "There is no page at this address.", "", slog.LevelDebug},
		{"reset link unusable", user.ErrResetInvalid, 404, "", "There is no page at this address.", "", slog.LevelDebug},
		{"not found with the handler's words", withMessage(user.ErrNotFound, "admin.user_not_found"),
			404, "", "There is no account with this number.", "", slog.LevelDebug},

		{"conflict", fail.New(fail.Conflict, "test: changed"), 409, "", "changed by another request meanwhile", "", slog.LevelInfo},
		{"rotated", session.ErrRotated, 409, "", "changed by another request meanwhile", "", slog.LevelInfo},
		{"email taken", fmt.Errorf("store: create user: %w", user.ErrEmailTaken), 422, "", "An account with this email address already exists. Log in instead.", "", slog.LevelDebug},

		{"unauthorized", errLoginFailed, 401, "", "Latch could not confirm who you are.", "", slog.LevelInfo},
		{"wrong password", errWrongPassword, 401, "", "Latch could not confirm who you are.", "", slog.LevelInfo},
		{"session gone", fmt.Errorf("commit: %w", session.ErrGone), 303, "", "", "/login", slog.LevelInfo},

		{"forbidden", fail.New(fail.Forbidden, "test: refused"), 403, "", "You are not allowed to do this.", "", slog.LevelWarn},
		{"cross-origin", fmt.Errorf("%w (origin %q)", errCrossOrigin, "https://evil.example"), 403, "", "This form was sent from another site", "", slog.LevelWarn},
		{"csrf", errCSRF, 403, "", "This form has expired or did not come from Latch", "", slog.LevelWarn},
		{"not admin", errNotAdmin, 403, "", "This page is for administrators only.", "", slog.LevelWarn},

		{"throttled, rounded up", fail.Throttle("throttle: test quota", 1500*time.Millisecond), 429, "2", "Too many attempts. Try again in 2 seconds.", "", slog.LevelDebug},
		{"throttled, one second", fail.Throttle("throttle: test quota", time.Millisecond), 429, "1", "Too many attempts. Try again in 1 second.", "", slog.LevelDebug},
		{"throttle verdict", fmt.Errorf("login: %w", throttle.Verdict{RetryAfter: 10 * time.Second, Scope: throttle.ScopeIP}.Err()),
			429, "10", "Try again in 10 seconds.", "", slog.LevelDebug},

		{"session store down", fmt.Errorf("session: redis get: %w: %w", session.ErrUnavailable, dial), 503, "2",
			"Latch cannot reach its session store right now, so what you asked may not have been done. Please try again in a few seconds.", "", slog.LevelError},
		{"state copy not written", fmt.Errorf("%w: %w", user.ErrStateCopyNotWritten, dial), 503, "2",
			"Latch cannot reach its session store right now, so what you asked may not have been done. Please try again in a few seconds.", "", slog.LevelError},
		{"revocation not replicated", fmt.Errorf("session: redis revoke: %w: %w: %v", session.ErrUnavailable, session.ErrNotReplicated, redisconn.ErrNoReplica), 503, "2",
			"Latch could not confirm that a second Redis server has this change, so it may not have taken effect. Please try again in a few seconds.", "", slog.LevelError},
		{"throttle counters down", fmt.Errorf("throttle: reserve: %w: %w", throttle.ErrUnavailable, dial), 503, "2",
			"Latch cannot check sign-in attempts right now.", "", slog.LevelError},
		{"database down", fail.Wrap(fail.Unavailable, dial, "store: user by email"), 503, "2",
			"Latch cannot reach its database right now.", "", slog.LevelError},
		// database/sql's own "driver: bad connection" after its retries (it
		// was a 500 under 20 parallel admin overviews: second break-it review).
		{"database/sql bad connection", fmt.Errorf("store: login activity: %w", driver.ErrBadConn), 503, "2",
			"Latch cannot reach its database right now.", "", slog.LevelError},
		{"database/sql connection done", fmt.Errorf("store: x: %w", sql.ErrConnDone), 503, "2",
			"Latch cannot reach its database right now.", "", slog.LevelError},
		{"unavailable with a hint", &fail.Error{Kind: fail.Unavailable, Msg: "store: test hint", RetryAfter: 5 * time.Second}, 503, "5",
			"Latch cannot reach its database right now.", "", slog.LevelError},

		{"hashing busy", fmt.Errorf("%w: %w", password.ErrBusy, slots.ErrBusy), 503, "2",
			"Latch is busy checking other sign-ins.", "", slog.LevelWarn},
		{"strength checks busy", fmt.Errorf("%w: %w", user.ErrStrengthBusy, slots.ErrBusy), 503, "2",
			"Latch is busy checking other new passwords.", "", slog.LevelWarn},
		{"busy", slots.ErrBusy, 503, "2", "Latch is busy right now.", "", slog.LevelWarn},
	}
	seen := map[fail.Kind]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen[fail.KindOf(tt.err)] = true
			if got := a.srv.answerOf(tt.err).level; got != tt.level {
				t.Errorf("log level %v, want %v", got, tt.level)
			}
			if got := a.srv.statusOf(tt.err); got != tt.status {
				t.Errorf("statusOf = %d, want %d", got, tt.status)
			}
			rec := httptest.NewRecorder()
			a.srv.serverError(rec, httptest.NewRequest(http.MethodGet, "/profile", nil), tt.err)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if tt.location != "" {
				if got := rec.Header().Get("Location"); !strings.HasPrefix(got, tt.location) {
					t.Errorf("Location %q, want %s…", got, tt.location)
				}
				return
			}
			body := rec.Body.String()
			if !strings.Contains(body, html.EscapeString(tt.page)) {
				t.Errorf("page lacks %q:\n%s", tt.page, body)
			}
			if !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type %q, want the HTML error page", rec.Header().Get("Content-Type"))
			}
			if strings.Contains(body, dial.Error()) || strings.Contains(body, tt.err.Error()) && tt.err.Error() != tt.page {
				t.Errorf("the page shows the error's detail:\n%s", body)
			}
		})
	}
	for k := fail.Internal; k <= fail.Busy; k++ {
		if !seen[k] {
			t.Errorf("no case of kind %v", k)
		}
	}
}

// TestClientErrorsNeverLogAtErrorLevel: every 4xx answer of the table is
// logged below error level (a client's mistake is not an operator's
// alarm), and a 5xx one is logged at warn or error.
func TestClientErrorsNeverLogAtErrorLevel(t *testing.T) {
	a := newTestApp(t)
	for k := fail.Internal; k <= fail.Busy; k++ {
		for _, err := range []error{fail.New(k, "test: "+k.String()), withMessage(fail.New(k, "test: "+k.String()), "words")} {
			ans := a.srv.answerOf(err)
			switch {
			case ans.status < 500 && ans.level >= slog.LevelError:
				t.Errorf("%v: status %d logged at %v", k, ans.status, ans.level)
			case ans.status >= 500 && ans.level < slog.LevelWarn:
				t.Errorf("%v: status %d logged at %v, want warn or error", k, ans.status, ans.level)
			}
		}
	}
	// End to end: 4xx answers leave no ERROR line in the log.
	before := len(a.logs.String())
	for _, err := range []error{errFormTooLarge, errURLText, session.ErrMalformedCookie, user.ErrInvalid, user.ErrNotFound,
		user.ErrEmailTaken, session.ErrRotated, errLoginFailed, session.ErrGone, errCSRF, fail.Throttle("t", time.Second)} {
		rec := httptest.NewRecorder()
		a.srv.serverError(rec, httptest.NewRequest(http.MethodPost, "/login", nil), err)
		if rec.Code >= 500 {
			t.Errorf("%v: status %d", err, rec.Code)
		}
	}
	if logs := a.logs.String()[before:]; strings.Contains(logs, "level=ERROR") {
		t.Errorf("a 4xx answer was logged at error level:\n%s", logs)
	}
}

// TestUnreadableFormKeepsItsTextOutOfTheLog: a login form that does not
// parse is a 400 whose log line does not quote the form (the parser's
// error does, and the text may be a password).
func TestUnreadableFormKeepsItsTextOutOfTheLog(t *testing.T) {
	a := newTestApp(t)
	res, err := a.ts.Client().Post(a.ts.URL+"/login", "application/x-www-form-urlencoded",
		strings.NewReader("email=bob%40example.com&password=Sec%zZret"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", res.StatusCode)
	}
	if logs := a.logs.String(); strings.Contains(logs, "%zZ") || !strings.Contains(logs, "form could not be parsed") {
		t.Errorf("log quotes the form, or has no line for it:\n%s", logs)
	}
}

// TestHandlerRefusalsAnsweredByTable: the 4xx answers of the admin, reset
// and sessions pages come from the one table (serverError logs each with
// its status and kind), not from a handler that picked its own status.
func TestHandlerRefusalsAnsweredByTable(t *testing.T) {
	a := newTestApp(t)
	withResets(t, a, bobID)
	// 404 rows log at debug level: show them.
	a.srv.log = withRequestIDs(slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	admin := a.login("admin@example.com", false)
	_ = a.users.SetDisabled(t.Context(), malloryID, true)
	for _, tc := range []struct {
		name, method, path string
		status             int
		kind               string
	}{
		{"page number not a number", http.MethodGet, "/admin/users?page=x", http.StatusBadRequest, "invalid"},
		{"page past the last", http.MethodGet, "/admin/audit?page=99", http.StatusNotFound, "not found"},
		{"malformed account number", http.MethodGet, "/admin/users/x", http.StatusNotFound, "not found"},
		{"unknown account", http.MethodPost, "/admin/users/999/disable", http.StatusNotFound, "not found"},
		{"own account", http.MethodPost, "/admin/users/1/disable", http.StatusBadRequest, "invalid"},
		{"reset link for a disabled account", http.MethodPost, "/admin/users/3/reset-link", http.StatusBadRequest, "invalid"},
		{"unknown session handle", http.MethodPost, "/admin/sessions/nope/kill", http.StatusNotFound, "not found"},
		{"not one of your sessions", http.MethodPost, "/sessions/nope/revoke", http.StatusNotFound, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logged := len(a.logs.String())
			var res *http.Response
			var body string
			if tc.method == http.MethodPost {
				res, body = admin.post(tc.path, nil)
			} else {
				res, body = admin.get(tc.path)
			}
			wantStatus(t, res, body, tc.status)
			line := fmt.Sprintf(`msg="request refused" route=%s`, strings.SplitN(tc.path, "?", 2)[0])
			logs := a.logs.String()[logged:]
			kind := tc.kind
			if strings.Contains(kind, " ") {
				kind = strconv.Quote(kind)
			}
			if !strings.Contains(logs, line) || !strings.Contains(logs, fmt.Sprintf("status=%d kind=%s", tc.status, kind)) {
				t.Errorf("no table answer logged (want %q with status %d, kind %q):\n%s", line, tc.status, tc.kind, logs)
			}
		})
	}
}
