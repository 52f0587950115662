package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// reauthField is the form field that carries the password on the
// "Confirm your password" page.
const reauthField = "reauth_password"

// recentlyAuthenticated reports whether the password was entered in this
// session (at login or re-authentication) within the re-authentication
// window. Only that moment counts: a session kept alive for days by
// remember-me is not recent.
func (s *Server) recentlyAuthenticated(ctx context.Context) bool {
	at := s.sessions.AuthenticatedAt(ctx)
	return !at.IsZero() && s.clock().Sub(at) <= s.reauthWindow
}

// requireRecentAuth guards sensitive POST actions with "sudo mode" (OWASP
// ASVS 5.0 V7.5.1, V7.5.2). It runs after requireUser and requireCSRFToken.
//
// When the password was entered within the window the action runs. Otherwise
// a form without reauth_password gets the "Confirm your password" page (200),
// whose form posts to the same action with the original fields as hidden
// inputs, a fresh csrf_token and a reauth_password field; so the person is
// asked for the password and then returned to the action with what they
// had entered. A form with reauth_password has it checked like a login
// (bounded length, the hashing pool): a wrong one shows the page again with
// an error (401); the right one issues a new session token
// (Manager.Reauthenticate), is audited as Reauthenticated, and the action
// runs in the same request.
func (s *Server) requireRecentAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if r.Method != http.MethodPost || s.recentlyAuthenticated(ctx) {
			next.ServeHTTP(w, r)
			return
		}
		u := currentUser(ctx)
		if u == nil {
			s.serverError(w, r, errors.New("requireRecentAuth: no user in context (route lacks requireUser)"))
			return
		}
		if err := parseForm(r); err != nil {
			s.serverError(w, r, err)
			return
		}
		if !r.PostForm.Has(reauthField) {
			s.renderReauth(w, r, http.StatusOK, "")
			return
		}
		pw := r.PostForm.Get(reauthField)
		if pw == "" {
			s.renderReauth(w, r, s.statusOf(errPasswordMissing), "reauth.missing")
			return
		}
		checked, err := s.checkOwnPassword(r, u, pw, "confirming an action")
		if err == nil {
			err = s.sessions.Reauthenticate(ctx)
		}
		switch {
		case errors.Is(err, errWrongPassword):
			s.renderReauth(w, r, s.statusOf(err), "reauth.wrong")
			return
		case errors.Is(err, session.ErrRotated):
			s.sentTwice(w, r, reauthCancel(r))
			return
		case err != nil:
			s.serverError(w, r, err)
			return
		}
		s.sessions.BindCredentials(ctx, epochOf(checked)) // read this request, with the hash just verified
		s.record(r, audit.Event{Type: audit.Reauthenticated, Via: audit.ViaSelf, ActorID: u.ID, SubjectID: u.ID,
			SessionHandle: s.sessions.Handle(ctx)})
		r.PostForm.Del(reauthField)
		r.Form.Del(reauthField)
		next.ServeHTTP(w, r)
	})
}

// errWrongPassword is checkOwnPassword's error for a wrong password
// (401: the form is shown again); errPasswordMissing a password field left
// empty (422).
var (
	errWrongPassword   = fail.New(fail.Unauthorized, "server: wrong password from a signed-in session")
	errPasswordMissing = fmt.Errorf("server: password field empty: %w", user.ErrInvalid)
)

// checkOwnPassword checks pw against the signed-in user u's password, for
// a form a signed-in person sends (the sudo-mode prompt, the password
// change), under the same throttle quotas as the login form, through the
// same reservation (reserveLogin before hashing, refunded when right): a
// stolen session must not be a way around them to guess the password. The
// principal carries no password hash, so the account is read from SQL
// here; checked is that record (its credential epoch is the one read with
// the hash, for BindCredentials). A record without a hash, or of a
// disabled account, fails closed: an error (500) or a wrong password,
// never a verification. It writes nothing. Errors: errWrongPassword for a
// wrong password (the reservation stays counted; logged and audited as
// login.failed with "wrong password when <doing>", via selfVia); reserveLogin's
// (fail.Throttled, fail.Unavailable); the store's and the hasher's (then
// the reservation is refunded: no password was checked).
func (s *Server) checkOwnPassword(r *http.Request, u *user.User, pw, doing string) (checked *user.User, err error) {
	reservation, err := s.reserveLogin(r, u.Email) // throttle.go: reserved before hashing, like a login
	if err != nil {
		return nil, err
	}
	checked, err = s.users.UserByID(r.Context(), u.ID)
	if err == nil && checked.PasswordHash == "" {
		err = errors.New("check own password: the account record has no password hash")
	}
	if err != nil {
		s.refundLogin(r, reservation) // no password was checked
		return nil, err
	}
	ok := false
	if len(pw) <= user.MaxPasswordBytes && !checked.Disabled { // hashing cost must not scale with input
		if ok, err = s.passwords.Verify(r.Context(), pw, checked.PasswordHash); err != nil {
			s.refundLogin(r, reservation) // no password was checked
			return nil, err
		}
	}
	if !ok { // the reservation stays counted
		s.log.WarnContext(r.Context(), "wrong password from a signed-in session", "doing", doing, "user_id", u.ID, "route", logRoute(r),
			"client_ip", clientIP(r))
		s.record(r, audit.Event{Type: audit.LoginFailed, Via: selfVia(r), ActorID: u.ID, SubjectID: u.ID,
			Email: u.Email, SessionHandle: s.sessions.Handle(r.Context()), Detail: "wrong password when " + doing})
		return nil, errWrongPassword
	}
	s.refundLogin(r, reservation)
	return checked, nil
}

// sentTwice answers the loser of a double-submitted password confirmation
// (session.ErrRotated: a parallel request with the same session confirmed
// the password first and got the session's new token): nothing was done
// by this request, its response sets no session cookie, and the person is
// sent to target with a note saying so.
func (s *Server) sentTwice(w http.ResponseWriter, r *http.Request, target string) {
	s.log.InfoContext(r.Context(), "double-submitted confirmation: the parallel request was carried out, this one not",
		"user_id", s.sessions.UserID(r.Context()), "route", logRoute(r), "client_ip", clientIP(r))
	s.setFlash(w, flashSentTwice)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// renderReauth shows the "Confirm your password" page for the action r was
// sent to, with the form error formError (a message ID; "" for none).
func (s *Server) renderReauth(w http.ResponseWriter, r *http.Request, status int, formError string) {
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "reauth.title")
	if formError != "" {
		data.FormError = s.t(r, formError)
	}
	data.Reauth = reauthView{Action: r.URL.EscapedPath(), Cancel: reauthCancel(r)}
	keys := make([]string, 0, len(r.PostForm))
	for k := range r.PostForm {
		if k != "csrf_token" && k != reauthField {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.PostForm[k] {
			data.Reauth.Fields = append(data.Reauth.Fields, hiddenField{Name: k, Value: v})
		}
	}
	s.render(w, r, status, "reauth", data)
}

// reauthCancel is where "Cancel" on the confirmation page leads: the page
// the form came from when it says so (next), else the page that lists what
// the action acts on.
func reauthCancel(r *http.Request) string {
	p := r.URL.Path
	switch next := localPath(r.PostForm.Get("next")); {
	case next != "" && strings.HasPrefix(p, "/admin/") && strings.HasPrefix(next, "/admin/"):
		return next
	case strings.HasPrefix(p, "/admin/users/"):
		return path.Dir(p) // /admin/users/{id}
	case strings.HasPrefix(p, "/admin/"):
		return "/admin/sessions"
	default:
		return "/sessions"
	}
}

// selfVia is the Via of an audit event a signed-in person caused: via app
// for a request of the JSON API, else via self (the pages).
func selfVia(r *http.Request) audit.Via {
	if isAPIPath(r) {
		return audit.ViaApp
	}
	return audit.ViaSelf
}
