package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/text"
	"github.com/latch/latch/internal/user"
)

// loginFailed is the one message for every login failure: unknown email,
// wrong password, disabled account (OWASP ASVS 5.0 V6.3.8; no account
// enumeration).
const loginFailed = "login.wrong_credentials" // message ID

// loginShow renders the login form; a signed-in user goes straight on.
func (s *Server) loginShow(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if s.sessions.UserID(r.Context()) != 0 {
		http.Redirect(w, r, orProfile(next), http.StatusSeeOther)
		return
	}
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "login.title")
	data.Next = next
	data.Form.Email = s.popLoginEmail(w, r) // after registering (login_email.go)
	s.render(w, r, http.StatusOK, "login", data)
}

func orProfile(next string) string {
	if next == "" {
		return "/profile"
	}
	return next
}

// loginCheck verifies email and password. The attempt is first reserved
// against the throttle quotas (reserveLogin: one atomic step, before any
// hashing), and handed back when the password is right. Every failure
// shows the same message, and every failed password check does the same
// hashing work and takes as long (verifyLogin, then PadFailure) whatever
// the cause (unknown email, wrong password, disabled account). The one
// exception is a password longer than user.MaxPasswordBytes: it is refused
// without hashing (hashing cost must not scale with input), so sooner, but
// that depends on the password's length alone and tells nothing about the
// account. An empty email or password is answered 422 before the throttle.
// Success issues a new session token (fixation), written with the
// account's state copy and the per-user session limit in one store step
// (session.Manager.LoginUser), and answers 303 to next or /profile. Both
// are audited: LoginFailed with the email field when it is an email
// address, else only its length (auditEmail: a password typed into the
// wrong box must not reach the audit log), and the account when one has
// it; LoginSucceeded with the new session's handle. An empty field or a
// failed login shows the form again, at the status errors.go gives it
// (422, 401); any other failure is returned to the table (429 when
// throttled, 503 when a dependency is down or the hashing pool is full).
func (s *Server) loginCheck(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	email := strings.TrimSpace(r.PostForm.Get("email"))
	pw := r.PostForm.Get("password")
	remember := r.PostForm.Get("remember") != ""
	next := localPath(r.PostForm.Get("next"))

	// refused shows the form again with message msg (an ID), at err's
	// status (errors.go).
	refused := func(err error, msg string) error {
		data := s.newTemplateData(w, r)
		data.Title = s.t(r, "login.title")
		data.Form = formData{Email: text.Truncate(email, 254), Remember: remember}
		data.FormError = s.t(r, msg)
		data.Next = next
		s.render(w, r, s.statusOf(err), "login", data)
		return nil
	}
	if email == "" || pw == "" {
		return refused(errLoginIncomplete, "login.incomplete")
	}
	u, err := s.checkLogin(r, email, pw, "")
	if errors.Is(err, errLoginFailed) {
		return refused(err, loginFailed) // the reservation stays counted
	} else if err != nil {
		return err
	}

	// The per-user session limit and the account's state copy are written
	// with the new session, in one store step (session.Options.MaxSessionsPerUser).
	if err := s.sessions.LoginUser(ctx, u, remember); err != nil {
		return err
	}
	s.metrics.SessionCreated()
	s.sessions.BindCredentials(ctx, epochOf(u)) // the epoch read with the hash just verified
	e := audit.Event{Type: audit.LoginSucceeded, ActorID: u.ID, SubjectID: u.ID, Email: email,
		SessionHandle: s.sessions.Handle(ctx)}
	if remember {
		e.Detail = "remember me"
	}
	s.record(r, e)
	s.recordDevice(r, u.ID, e.SessionHandle)
	if s.passwords.NeedsRehash(u.PasswordHash) {
		s.rehash(r, u.ID, pw)
	}
	s.log.InfoContext(r.Context(), "login succeeded", "user_id", u.ID, "client_ip", clientIP(r), "remember", remember)
	http.Redirect(w, r, orProfile(next), http.StatusSeeOther)
	return nil
}

// checkLogin is the password check of a sign-in, shared by the login form
// (loginCheck) and the API (apiSignIn) so that both are throttled and fail
// the same way: the attempt is reserved against the throttle quotas first
// (reserveLogin: one atomic step, before any hashing; the known-network
// exemption included), handed back when the password is right; every
// failure (unknown email, wrong password, disabled account, a password
// longer than user.MaxPasswordBytes) is the one error errLoginFailed, does
// the same hashing work and is padded to the same time (verifyLogin,
// PadFailure), and is logged and audited as LoginFailed with via ("" for
// the form, audit.ViaApp for the API). email and pw must not be empty. It
// returns the account as read from SQL, with its hash. Errors:
// errLoginFailed; reserveLogin's (fail.Throttled, fail.Unavailable); the
// store's and the hasher's (the reservation is then refunded).
func (s *Server) checkLogin(r *http.Request, email, pw string, via audit.Via) (*user.User, error) {
	ctx := r.Context()
	// throttle.go: 429 before any hashing when over a limit.
	reservation, err := s.reserveLogin(r, email)
	if err != nil {
		return nil, err
	}

	u, err := s.users.UserByEmail(ctx, email)
	if errors.Is(err, user.ErrNotFound) {
		// Unknown email: clear the error too, or a too-long password (no
		// hashing below) would answer 500 for unknown emails only.
		u, err = nil, nil
	}
	if err != nil {
		s.refundLogin(r, reservation) // no password was checked
		return nil, err
	}
	var ok bool
	started, verified := time.Now(), len(pw) <= user.MaxPasswordBytes
	if verified { // refuse before hashing: hashing cost must not scale with input
		stored := ""
		if u != nil {
			stored = u.PasswordHash
		}
		ok, err = s.verifyLogin(ctx, pw, stored)
	}
	if err != nil {
		s.refundLogin(r, reservation) // no password was checked
		return nil, err
	}
	if !ok || u.Disabled {
		e := audit.Event{Type: audit.LoginFailed, Via: via, Email: auditEmail(email)}
		switch {
		case u == nil:
			e.Detail = "unknown email"
		case len(pw) > user.MaxPasswordBytes:
			e.SubjectID, e.Detail = u.ID, "password too long"
		case !ok:
			e.SubjectID, e.Detail = u.ID, "wrong password"
		default:
			e.SubjectID, e.Detail = u.ID, "account disabled"
		}
		s.log.InfoContext(r.Context(), "login failed", "reason", e.Detail, "client_ip", clientIP(r))
		s.record(r, e)
		if verified {
			s.passwords.PadFailure(ctx, time.Since(started)) // as long as the slowest kind of hash
		}
		return nil, errLoginFailed // the reservation stays counted
	}
	s.refundLogin(r, reservation) // throttle.go: only failures count
	return u, nil

}

// Errors of the login form, answered by showing it again: an empty field
// (422), a failed login (401: one message for every cause).
var (
	errLoginIncomplete = fmt.Errorf("server: login form incomplete: %w", user.ErrInvalid)
	errLoginFailed     = fail.New(fail.Unauthorized, "server: login failed")
)

// verifyLogin checks pw against stored, the account's hash ("" when no
// account has the email: then against the dummy hash, VerifyDummy, so that
// the work is the same). A wrong password against a hash cheaper than the
// current parameters (an account not signed in since a cost increase)
// also pays VerifyDummy, so that no failure costs less than an unknown
// email's; costlier hashes (bcrypt imports) are matched by the caller's
// PadFailure instead. Errors: the hasher's (ErrBusy, ErrMalformedHash),
// only when no password was checked (the caller then refunds the
// reservation): once the stored hash has answered, a failing extra dummy
// verification is ignored, or a 503 would tell a wrong password apart
// without counting it.
func (s *Server) verifyLogin(ctx context.Context, pw, stored string) (bool, error) {
	if stored == "" {
		return s.passwords.VerifyDummy(ctx, pw)
	}
	ok, err := s.passwords.Verify(ctx, pw, stored)
	if err == nil && !ok && s.passwords.CheaperThanCurrent(stored) {
		_, _ = s.passwords.VerifyDummy(ctx, pw) // best effort: PadFailure evens the time anyway
	}
	return ok, err
}

// auditEmail is what a failed login's audit event stores of the email
// field: the address when user.NormalizeEmail accepts it, else only a
// fixed marker with its length, "(not an email address, 17 characters)",
// so that a password typed into the email box never reaches the audit log
// (OWASP ASVS 5.0 V16.2.5: no credentials in logs).
func auditEmail(typed string) string {
	if email, _, err := user.NormalizeEmail(typed); err == nil {
		return email
	}
	n := utf8.RuneCountInString(typed)
	unit := "characters"
	if n == 1 {
		unit = "character"
	}
	return fmt.Sprintf("(not an email address, %d %s)", n, unit)
}

// auditLimitRevoked records each session that the per-user session limit
// revoked when a login created one (Config.MaxSessionsPerUser, enforced by
// the session store in the same step as the creation: see
// session.Options.MaxSessionsPerUser), as revoked by the limit.
func (s *Server) auditLimitRevoked(r *http.Request, revoked []session.Record) {
	s.metrics.SessionsRevoked(RevokeLimit, len(revoked))
	for _, rec := range revoked {
		s.log.InfoContext(r.Context(), "session revoked", "user_id", rec.UserID, "session_handle", rec.Handle, "via", audit.ViaLimit)
		s.record(r, audit.Event{Type: audit.SessionRevoked, Via: audit.ViaLimit, SubjectID: rec.UserID,
			SessionHandle: rec.Handle, Detail: fmt.Sprintf("limit of %d sessions per user", s.maxSessions)})
	}
}

// rehash upgrades a stored hash to the current parameters after a
// successful login; a failure is logged and the login still succeeds.
func (s *Server) rehash(r *http.Request, id int64, pw string) {
	h, err := s.passwords.Hash(r.Context(), pw)
	if err == nil {
		err = s.users.SetPasswordHash(r.Context(), id, h)
	}
	if err != nil {
		s.log.WarnContext(r.Context(), "password rehash failed", "user_id", id, "err", err)
	}
}

// msgEmailTaken answers a registration for an address that has an account.
// Saying so reveals that the account exists; Latch does, as most sites do:
// the per-IP registration quota bounds how many addresses one client can
// test, and a uniform answer would only help together with email
// verification, which Latch does not have (README, "Account enumeration").
const msgEmailTaken = "register.email_taken" // message ID

// registerShow renders the registration form.
func (s *Server) registerShow(w http.ResponseWriter, r *http.Request) {
	if s.sessions.UserID(r.Context()) != 0 {
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
		return
	}
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "register.title")
	s.render(w, r, http.StatusOK, "register", data)
}

// registerCheck creates an account (account.Service.CreateUser) and sends
// the person to the login page, which opens with the new address filled
// in (setLoginEmail). Field errors re-render the form (422) with what was
// typed, except the password. The steps go from cheap to costly, so that
// what an anonymous client can make Latch do is bounded: the cheap field
// rules (user.ValidateRegistration), then the per-IP registration quota,
// then the strength check (a few milliseconds, in the bounded pool), then
// hashing (the bounded hashing pool).
func (s *Server) registerCheck(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	name := strings.TrimSpace(r.PostForm.Get("name"))
	pw := r.PostForm.Get("password")

	fail := func(errs map[string]string) {
		data := s.newTemplateData(w, r)
		data.Title = s.t(r, "register.title")
		data.Form = formData{Email: text.Truncate(email, 254), Name: text.Truncate(name, 200)}
		data.FieldErrors = errs
		s.render(w, r, http.StatusUnprocessableEntity, "register", data)
	}
	if errs := user.ValidateRegistration(email, name, pw); len(errs) > 0 {
		fail(s.userTexts(r, errs))
		return nil
	}
	if err := s.countRegistration(r); err != nil { // throttle.go: per-IP quota, counted before the strength check and hashing
		return err
	}
	u, _, err := s.accounts.CreateUser(r.Context(), s.actor(r, audit.ViaSelf),
		account.NewUser{Email: email, Name: name, Password: pw, Role: user.RoleUser})
	var fields account.FieldErrors
	switch {
	case errors.As(err, &fields):
		fail(s.userTexts(r, fields))
		return nil
	case errors.Is(err, user.ErrEmailTaken):
		fail(map[string]string{"email": s.t(r, msgEmailTaken)})
		return nil
	case err != nil:
		return err
	}
	s.setFlash(w, flashRegistered)
	s.setLoginEmail(w, u.Email) // the login form opens with it filled in
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// logout ends the session on the server (POST only, CSRF-checked by the
// route's middleware) and expires the cookie. If the store cannot be
// reached the session is not ended and the user sees 503, not a false
// "logged out" (the error is returned to the table).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	id, handle := s.sessions.UserID(r.Context()), s.sessions.Handle(r.Context())
	if err := s.sessions.Logout(r.Context()); err != nil {
		return err
	}
	s.metrics.SessionsRevoked(RevokeLogout, 1)
	s.log.InfoContext(r.Context(), "logout", "user_id", id, "client_ip", clientIP(r))
	s.record(r, audit.Event{Type: audit.Logout, Via: audit.ViaSelf, ActorID: id, SubjectID: id, SessionHandle: handle})
	s.setFlash(w, flashLoggedOut)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
