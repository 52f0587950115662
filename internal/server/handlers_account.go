package server

import (
	"errors"
	"net/http"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
)

// The signed-in user's own password change (GET|POST /account/password).
// The form asks for the current password, so the change is its own
// re-authentication: the route is not behind requireRecentAuth, and a
// successful change counts as entering the password (Reauthenticate).

// passwordShow shows the change-password form.
func (s *Server) passwordShow(w http.ResponseWriter, r *http.Request) {
	s.renderPasswordForm(w, r, http.StatusOK, nil)
}

// passwordChange changes the signed-in user's password
// (account.Service.ChangePassword). The new password follows the
// registration rules (length: user.ValidatePassword, and not easy to guess
// given the account's email and name) and must differ from the current
// one, which must be right (checked like a login: bounded length, the
// hashing pool; a wrong one is audited as a failed sign-in). The strength
// check runs only once the current password is known to be right, in the
// bounded strength pool.
//
// On success, in this order: the current session gets a new token and
// counts as just authenticated (Reauthenticate; if it was revoked meanwhile
// nothing is changed and the person is sent to log in); the new hash is
// stored and the credential epoch moved to now in one step (every session
// in which the password was entered before now stops being honoured, on
// every instance, at its next request: requireUser), so the current one is
// the only survivor; every other session of the user is revoked at once;
// PasswordChanged is audited; and the page lists the sessions that were
// ended.
func (s *Server) passwordChange(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	u := currentUser(ctx)
	current := r.PostForm.Get("current_password")
	pw := r.PostForm.Get("password")

	if errs := account.PasswordFieldErrors(current, pw); errs != nil {
		s.renderPasswordForm(w, r, http.StatusUnprocessableEntity, errs)
		return nil
	}
	checked, err := s.checkOwnPassword(r, u, current, "changing the password")
	if errors.Is(err, errWrongPassword) {
		s.renderPasswordForm(w, r, s.statusOf(err),
			map[string]string{"current_password": s.t(r, "password.current_wrong")})
		return nil
	} else if err != nil {
		return err
	}
	res, err := s.accounts.ChangePassword(ctx, s.actor(r, audit.ViaSelf), s.sessions, checked, pw)
	var fields account.FieldErrors
	switch {
	case errors.As(err, &fields):
		s.renderPasswordForm(w, r, http.StatusUnprocessableEntity, fields)
		return nil
	case errors.Is(err, session.ErrGone):
		s.setFlash(w, flashExpired)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	case errors.Is(err, session.ErrRotated):
		s.sentTwice(w, r, "/account")
		return nil
	case err != nil:
		return err
	}

	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "password.changed_title")
	data.PasswordChanged = true
	data.Ended = s.sessionRows(res.Ended, "", nil)
	if res.RevokeErr != nil {
		data.Notice = s.t(r, "password.ended_unavailable")
	}
	s.render(w, r, http.StatusOK, "account_password", data)
	return nil
}

// renderPasswordForm shows the change-password form with errs (keys
// "current_password", "password"; nil when none), English words of
// internal/account and internal/user shown in r's reader's language
// (userText). Passwords are never written back into the form.
func (s *Server) renderPasswordForm(w http.ResponseWriter, r *http.Request, status int, errs map[string]string) {
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "password.title")
	if errs != nil {
		errs = s.userTexts(r, errs)
	}
	data.FieldErrors = errs
	s.render(w, r, status, "account_password", data)
}
