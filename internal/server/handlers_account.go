package server

import (
	"errors"
	"net/http"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// The signed-in user's own password change (GET|POST /account/password).
// The form asks for the current password, so the change is its own
// re-authentication: the route is not behind requireRecentAuth, and a
// successful change counts as entering the password (Reauthenticate).

// passwordShow shows the change-password form.
func (s *Server) passwordShow(w http.ResponseWriter, r *http.Request) {
	s.renderPasswordForm(w, r, http.StatusOK, nil)
}

// passwordChange changes the signed-in user's password. The new password
// follows the registration rules (length: user.ValidatePassword, and not
// easy to guess given the account's email and name: newPassword) and must
// differ from the current one, which must be right (checked like a login:
// bounded length, the hashing pool; a wrong one is audited as a failed
// sign-in). The strength check runs only once the current password is
// known to be right, in the bounded strength pool.
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
func (s *Server) passwordChange(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := currentUser(ctx)
	current := r.PostForm.Get("current_password")
	pw := r.PostForm.Get("password")

	errs := map[string]string{}
	if current == "" {
		errs["current_password"] = "Enter your current password"
	}
	if msg := user.ValidatePassword(pw); msg != "" {
		errs["password"] = msg
	} else if pw == current {
		errs["password"] = "Choose a password different from your current one"
	}
	if len(errs) > 0 {
		s.renderPasswordForm(w, r, http.StatusUnprocessableEntity, errs)
		return
	}
	checked, err := s.checkOwnPassword(r, u, current, "changing the password")
	if errors.Is(err, errWrongPassword) {
		s.renderPasswordForm(w, r, s.statusOf(err),
			map[string]string{"current_password": "That is not your current password. Try again"})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	msg, err := s.newPassword(r, pw, user.PasswordHints(u.Email, u.Name))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if msg != "" {
		s.renderPasswordForm(w, r, http.StatusUnprocessableEntity, map[string]string{"password": msg})
		return
	}

	hash, err := s.passwords.Hash(ctx, pw)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The epoch is read before Reauthenticate reads the clock, so this
	// session's new authentication time is never before it. Rotating first
	// means a session revoked meanwhile changes nothing.
	now := s.clock()
	if err := s.sessions.Reauthenticate(ctx); errors.Is(err, session.ErrGone) {
		s.setFlash(w, flashExpired)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	} else if errors.Is(err, session.ErrRotated) {
		s.sentTwice(w, r, "/account")
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.accountChanged(r, u.ID, s.users.SetPassword(ctx, u.ID, hash, now)); err != nil {
		s.serverError(w, r, err)
		return
	}
	// This session alone follows the new epoch. checked was read with the
	// hash just verified; if another change slipped in meanwhile the epoch
	// differs and this session ends too (fails closed).
	s.sessions.BindCredentials(ctx, checked.NextCredentialEpoch(now))
	handle := s.sessions.Handle(ctx)
	ended, revokeErr := s.sessions.Registry().RevokeUser(ctx, u.ID, handle)
	s.metrics.SessionsRevoked(RevokePasswordChange, len(ended))
	detail := countSessions(len(ended)) + " ended, all but the current one"
	if revokeErr != nil {
		detail = "other sessions end at their next request (they could not be revoked at once)"
		s.log.Warn("password change: other sessions not revoked; they end at their next request", "user_id", u.ID, "err", revokeErr)
	}
	s.log.Info("password changed", "user_id", u.ID, "sessions_ended", len(ended), "client_ip", clientIP(r))
	s.record(r, audit.Event{Type: audit.PasswordChanged, Via: audit.ViaSelf, ActorID: u.ID, SubjectID: u.ID,
		SessionHandle: handle, Detail: detail})

	data := s.newTemplateData(w, r)
	data.Title = "Password changed"
	data.PasswordChanged = true
	data.Ended = s.sessionRows(ended, "", nil)
	if revokeErr != nil {
		data.Notice = "Your other sessions could not be listed right now. They are signed out all the same: none of them works any more."
	}
	s.render(w, r, http.StatusOK, "account_password", data)
}

// renderPasswordForm shows the change-password form with errs (keys
// "current_password", "password"; nil when none). Passwords are never
// written back into the form.
func (s *Server) renderPasswordForm(w http.ResponseWriter, r *http.Request, status int, errs map[string]string) {
	data := s.newTemplateData(w, r)
	data.Title = "Change your password"
	data.FieldErrors = errs
	s.render(w, r, status, "account_password", data)
}
