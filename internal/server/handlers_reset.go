package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/realclientip/realclientip-go"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/randtoken"
	"github.com/latch/latch/internal/user"
)

// Password reset without email: an administrator (the "Create reset link"
// button, or `latch user reset-link EMAIL`) makes a one-time link
// /reset/<token> and hands it to the person. The link works once, for 30
// minutes (store.ResetLinkLifetime); opening it shows a form for a new
// password, and setting one ends every session of the account and signs
// the person in with a fresh one.
//
// The token in the path is a credential, so it must not leak:
// hideResetToken takes it out of the request's URL before anything can log
// it (every log line names r.URL.Path), and the pages send
// Referrer-Policy: no-referrer (secureHeaders). The pages need no session,
// like the login form, and like it are guarded by CrossOriginProtection.

// resetPathPrefix starts the path of every reset link.
const resetPathPrefix = "/reset/"

// redactedResetPath is the URL path of a /reset/<token> request for every
// handler and middleware after hideResetToken, the request log included.
const redactedResetPath = resetPathPrefix + "redacted"

type resetTokenKey struct{}

// isResetPath reports whether path is a reset link's.
func isResetPath(path string) bool { return strings.HasPrefix(path, resetPathPrefix) }

// hideResetToken runs first of all middleware: for a request to
// /reset/<token> it moves the token from the URL into the request context
// (resetToken reads it) and leaves the path /reset/redacted, so no log
// line, error page or panic report can contain it.
func (s *Server) hideResetToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, resetPathPrefix)
		if !ok || token == "" {
			next.ServeHTTP(w, r)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), resetTokenKey{}, token))
		u := *r.URL
		u.Path, u.RawPath = redactedResetPath, ""
		r.URL = &u
		r.RequestURI = u.RequestURI()
		next.ServeHTTP(w, r)
	})
}

// resetToken returns the token hideResetToken took from the URL ("" when
// none).
func resetToken(r *http.Request) string {
	token, _ := r.Context().Value(resetTokenKey{}).(string)
	return token
}

// resetView is the /reset/{token} page.
type resetView struct {
	Action  string // the form's action: the link's own path, token included
	Email   string // the account the link is for
	Invalid bool   // the link cannot be used (unknown, expired, used): say so and nothing else
}

// resetLinkView is a reset link just made, shown once on the admin's
// account page.
type resetLinkView struct {
	URL     string
	Expires time.Time
}

// resetShow shows the form for a new password (GET /reset/{token}), or the
// one message for a link that cannot be used.
func (s *Server) resetShow(w http.ResponseWriter, r *http.Request) error {
	if s.resets == nil {
		return errNoPage
	}
	u, err := s.resetAccount(r)
	if err != nil {
		return s.resetRefused(w, r, err)
	}
	s.renderReset(w, r, http.StatusOK, u, nil)
	return nil
}

// resetCheck sets a new password with a reset link (POST /reset/{token})
// through account.Service.ResetPassword: the password must pass the same
// rules as at registration, judged against the account's email and name
// (the strength check in the bounded pool, after the link was found
// usable). On success, in this order: the link is used up, the hash
// replaced and the credential epoch moved to now in one store transaction
// (of two submissions racing with one link exactly one gets here); every
// session of the account is revoked; a new session is issued for this
// browser (fixation-safe, like a login) and its device recorded; the
// event is audited; 303 to /profile. A link that cannot be used gets the
// one message (404).
func (s *Server) resetCheck(w http.ResponseWriter, r *http.Request) error {
	if s.resets == nil {
		return errNoPage
	}
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.resetAccount(r)
	if err != nil {
		return s.resetRefused(w, r, err)
	}
	_, err = s.accounts.ResetPassword(ctx, s.actor(r, audit.ViaSelf), s.sessions, u, resetToken(r), r.PostForm.Get("password"),
		func(handle string) {
			// The fresh session is a sign-in like any other: it counts for
			// "last sign-in" and for new-device detection.
			s.recordDevice(r, u.ID, handle)
		})
	var fields account.FieldErrors
	switch {
	case errors.As(err, &fields):
		s.renderReset(w, r, http.StatusUnprocessableEntity, u, fields)
		return nil
	case err != nil: // user.ErrResetInvalid: used by a concurrent submission, or expired meanwhile
		return s.resetRefused(w, r, err)
	}
	s.setFlash(w, flashPasswordReset)
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
	return nil
}

// resetAccount returns the account of the request's reset link, if the
// link can be used (account.Service.ResetLinkAccount). Errors:
// user.ErrResetInvalid for a link that cannot be used (malformed, unknown,
// expired, used, or a disabled account's: it says nothing more); the
// store's errors.
func (s *Server) resetAccount(r *http.Request) (*user.User, error) {
	token := resetToken(r)
	if !randtoken.Valid(token, 32) { // store.CreatePasswordReset: 32 random bytes
		return nil, user.ErrResetInvalid
	}
	return s.accounts.ResetLinkAccount(r.Context(), token)
}

// renderReset shows the new-password form for account u's link, with
// errs (English words of internal/account and internal/user) in r's
// reader's language.
func (s *Server) renderReset(w http.ResponseWriter, r *http.Request, status int, u *user.User, errs map[string]string) {
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "reset.title")
	data.Reset = resetView{Action: resetPathPrefix + resetToken(r), Email: u.Email}
	if errs != nil {
		errs = s.userTexts(r, errs)
	}
	data.FieldErrors = errs
	s.render(w, r, status, "reset", data)
}

// resetRefused answers err from a reset link handler. For
// user.ErrResetInvalid it shows the one page for a link that cannot be
// used, whatever the reason (unknown, expired, used, disabled account),
// with the table's status (404), a page that says what may have happened
// and what to do, and returns nil; any other error it returns, for the
// table (handle).
func (s *Server) resetRefused(w http.ResponseWriter, r *http.Request, err error) error {
	if !errors.Is(err, user.ErrResetInvalid) {
		return err
	}
	s.log.InfoContext(r.Context(), "password reset link refused", "method", r.Method, "client_ip", clientIP(r))
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "reset.invalid_title")
	data.Reset = resetView{Invalid: true}
	s.render(w, r, s.statusOf(err), "reset", data)
	return nil
}

// adminResetLink makes a one-time reset link for an account
// (account.Service.IssueResetLink) and shows it, once, on the account's
// page (POST /admin/users/{id}/reset-link; CSRF token and recent
// re-authentication required by the route). It replaces any unused link
// of the account. A disabled account gets none (its link would not work).
// Audited as PasswordResetLink, without the link.
func (s *Server) adminResetLink(w http.ResponseWriter, r *http.Request) error {
	if s.resets == nil {
		return errNoPage
	}
	subject, err := s.accountParam(r)
	if err != nil {
		return err
	}
	link, err := s.accounts.IssueResetLink(r.Context(), s.actor(r, audit.ViaAdmin), subject)
	switch {
	case errors.Is(err, account.ErrDisabled):
		// The admin asked for what the account's state rules out: an
		// invalid request (400), not a conflict with another writer.
		return withMessage(fail.Wrap(fail.Invalid, err, "server: reset link"),
			"reset.disabled")
	case errors.Is(err, user.ErrNotFound):
		return noSuchAccount(err)
	case err != nil:
		return err
	}
	return s.renderAdminUser(w, r, subject, &resetLinkView{URL: s.siteOrigin(r) + resetPathPrefix + link.Token, Expires: link.Expires})
}

// siteOrigin is the scheme and host the request was sent to, for links
// shown to the person who sent it: https when the connection is TLS, or
// when a trusted proxy says so in X-Forwarded-Proto.
func (s *Server) siteOrigin(r *http.Request) string {
	scheme := "http"
	peer := realclientip.RemoteAddrStrategy{}.ClientIP(nil, r.RemoteAddr)
	if r.TLS != nil || (s.proxies != nil && s.trusted(peer) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
