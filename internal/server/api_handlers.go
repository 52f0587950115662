package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// Errors of the API's authentication (api.go, api_errors.go): no usable
// bearer token (401 with error="invalid_token" when one was presented),
// and a session ended by the account's state (401, invalid_token).
var (
	errNoBearer    = session.ErrNoBearer
	errBearerEnded = session.ErrGone
)

// errDeviceName: a device_name that is too long or holds control or
// format characters (422; session.ValidDeviceName).
var errDeviceName = apiFieldError(fmt.Errorf("server: device name invalid: %w", user.ErrInvalid), "device_name",
	fmt.Sprintf("device_name must be at most %d characters, without control or format characters (such as U+202E or U+200B).", session.MaxDeviceNameChars))

// errAPIWrongPassword: a wrong password sent with a valid bearer token
// (POST /api/v1/reauth, current_password of POST /api/v1/account/password).
// It is 403, not the form's 401 (errWrongPassword): the token was accepted,
// and a 401 with WWW-Authenticate tells generic clients (RFC 6750 §3.1) to
// drop it.
var errAPIWrongPassword = fail.New(fail.Forbidden, "api: wrong password from a valid bearer token")

// wrongPasswordMessage is the detail of errAPIWrongPassword.
const wrongPasswordMessage = "That password is not correct."

// apiFieldError is err answered with msg as the detail and as field's
// entry in the problem's "errors" (api_errors.go).
func apiFieldError(err error, field, msg string) error {
	return withMessage(fmt.Errorf("%w: %w", err, account.FieldErrors{field: msg}), msg)
}

// apiSession is a session as the API shows it at sign-in.
type apiSession struct {
	Handle        string    `json:"handle"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`      // the absolute deadline
	IdleExpiresAt time.Time `json:"idle_expires_at"` // when it ends unless used again
}

// signInResponse is the 201 body of POST /api/v1/sessions.
type signInResponse struct {
	Token     string     `json:"token"`
	TokenType string     `json:"token_type"`
	Session   apiSession `json:"session"`
}

// apiSignIn signs an app in (POST /api/v1/sessions {"email", "password",
// "device_name"?}) with the login form's check (checkLogin: the same
// throttle quotas and known-network exemption, reserved before hashing and
// refunded on success; the same uniform failure, 401 with one message and
// the same hashing work), then creates an app session (LoginApp: a new
// bearer token; the per-user limit and the account's state copy in the
// same store step) bound to the credential epoch read with the hash, and
// audits LoginSucceeded via app. 201 with the token, given this once. An
// empty email or password, or a bad device name (session.ValidDeviceName),
// is 422 naming the fields in "errors"; text the forms refuse (NUL,
// invalid UTF-8) is 400 (decodeJSON).
func (s *Server) apiSignIn(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email      string `json:"email"`
		Password   string `json:"password"`
		DeviceName string `json:"device_name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	email, device := strings.TrimSpace(in.Email), strings.TrimSpace(in.DeviceName)
	if email == "" || in.Password == "" {
		missing := account.FieldErrors{}
		if email == "" {
			missing["email"] = "email is required."
		}
		if in.Password == "" {
			missing["password"] = "password is required."
		}
		return withMessage(fmt.Errorf("%w: %w", errLoginIncomplete, missing), "email and password are required.")
	}
	if !session.ValidDeviceName(device) {
		return errDeviceName
	}
	u, err := s.checkLogin(r, email, in.Password, audit.ViaApp)
	if errors.Is(err, errLoginFailed) {
		return withMessage(err, loginFailed)
	} else if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.sessions.LoginApp(ctx, u, device); err != nil {
		return err
	}
	s.metrics.SessionCreated()
	s.sessions.BindCredentials(ctx, epochOf(u)) // the epoch read with the hash just verified
	handle := s.sessions.Handle(ctx)
	s.record(r, audit.Event{Type: audit.LoginSucceeded, Via: audit.ViaApp, ActorID: u.ID, SubjectID: u.ID, Email: email,
		SessionHandle: handle, Detail: "App: " + s.sessions.DeviceName(ctx)})
	s.recordDevice(r, u.ID, handle)
	if s.passwords.NeedsRehash(u.PasswordHash) {
		s.rehash(r, u.ID, in.Password)
	}
	s.log.InfoContext(r.Context(), "login succeeded", "user_id", u.ID, "client_ip", clientIP(r), "via", audit.ViaApp)
	info, _ := s.sessions.Info(ctx)
	w.Header().Set("Location", "/api/v1/sessions/current")
	writeJSON(w, http.StatusCreated, "application/json", signInResponse{
		Token: s.sessions.BearerTokenOf(ctx), TokenType: "Bearer",
		Session: apiSession{Handle: handle, CreatedAt: info.Created.UTC(), ExpiresAt: info.AbsoluteDeadline.UTC(),
			IdleExpiresAt: info.IdleDeadline.UTC()},
	})
	return nil
}

// apiUser is the signed-in account (GET /api/v1/me).
type apiUser struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// apiMe answers the signed-in user: id, email, name, role.
func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r.Context())
	writeJSON(w, http.StatusOK, "application/json", apiUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role)})
	return nil
}

// apiSessionRow is one session in GET /api/v1/sessions: the fields of a row
// of "Your devices" (sessionRow). Its deadlines mean what the sign-in
// response's (apiSession) mean.
type apiSessionRow struct {
	Handle        string    `json:"handle"`
	Kind          string    `json:"kind"`                  // "browser" or "app"
	Device        string    `json:"device"`                // "Firefox 128 on Linux", "App: Alice's phone"
	DeviceName    string    `json:"device_name,omitempty"` // an app session's name, as given at sign-in
	IP            string    `json:"ip"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`      // the absolute deadline, fixed at sign-in
	IdleExpiresAt time.Time `json:"idle_expires_at"` // when it ends if not used again (≤ expires_at)
	Remember      bool      `json:"remember"`
	Current       bool      `json:"current"` // the session of this request
}

// apiSessions lists the signed-in user's active sessions, browser and app,
// newest activity first, the current one marked.
func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	recs, err := s.sessions.Registry().UserSessions(ctx, currentUser(ctx).ID)
	if err != nil {
		return err
	}
	rows := s.sessionRows(recs, s.sessions.Handle(ctx), nil)
	out := struct {
		Sessions []apiSessionRow `json:"sessions"`
	}{Sessions: make([]apiSessionRow, 0, len(rows))}
	for i, row := range rows {
		kind := "browser"
		if recs[i].Kind == session.KindApp {
			kind = "app"
		}
		out.Sessions = append(out.Sessions, apiSessionRow{Handle: row.Handle, Kind: kind, Device: row.Device,
			DeviceName: recs[i].DeviceName, IP: row.IP, CreatedAt: row.Created.UTC(), LastSeenAt: row.LastSeen.UTC(),
			ExpiresAt: recs[i].AbsoluteDeadline.UTC(), IdleExpiresAt: recs[i].Expiry.UTC(), Remember: row.Remember, Current: row.Current})
	}
	writeJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// apiSignOut ends this app session (DELETE /api/v1/sessions/current): 204,
// audited as Logout via app. A store failure is 503 and the session stays.
func (s *Server) apiSignOut(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, handle := s.sessions.UserID(ctx), s.sessions.Handle(ctx)
	if err := s.sessions.Logout(ctx); err != nil {
		return err
	}
	s.metrics.SessionsRevoked(RevokeLogout, 1)
	s.log.InfoContext(r.Context(), "logout", "user_id", id, "client_ip", clientIP(r), "via", audit.ViaApp)
	s.record(r, audit.Event{Type: audit.Logout, Via: audit.ViaApp, ActorID: id, SubjectID: id, SessionHandle: handle})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiRevoke ends one other session of the signed-in user (DELETE
// /api/v1/sessions/{handle}; account.Service.RevokeSession restricted to
// the user's own sessions, audited via app). It needs the password entered
// within the re-authentication window (POST /api/v1/reauth), else 403. A
// handle that is none of the user's active sessions is 404, whoever owns
// it; the current session is 400 (DELETE /sessions/current ends it). 204.
func (s *Server) apiRevoke(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if !s.recentlyAuthenticated(ctx) {
		return withMessage(errReauthRequired,
			"Ending another session needs your password again: POST /api/v1/reauth with {\"password\"}, then retry within the re-authentication window.")
	}
	handle := chi.URLParam(r, "handle")
	notYours := withMessage(account.ErrNoSession, "None of your active sessions has this handle. It may have ended already.")
	if !session.ValidHandle(handle) {
		return notYours
	}
	_, _, err := s.accounts.RevokeSession(ctx, s.actor(r, audit.ViaApp), handle, currentUser(ctx).ID)
	switch {
	case errors.Is(err, account.ErrCurrentSession):
		return withMessage(err, "This is the session of this request. To end it, use DELETE /api/v1/sessions/current.")
	case errors.Is(err, account.ErrNoSession):
		return notYours
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiReauth checks the password again (POST /api/v1/reauth {"password"}),
// as the "Confirm your password" page does (checkOwnPassword: the login
// throttle, a wrong one audited via app and 403: errAPIWrongPassword), and records it in the session
// (Manager.Reauthenticate: for an app session without a new token), bound
// to the credential epoch read with the hash; audited Reauthenticated via
// app. 204; the window is LATCH_REAUTH_WINDOW.
func (s *Server) apiReauth(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Password == "" {
		return apiFieldError(errPasswordMissing, "password", "password is required.")
	}
	ctx := r.Context()
	u := currentUser(ctx)
	checked, err := s.checkOwnPassword(r, u, in.Password, "confirming an action")
	if errors.Is(err, errWrongPassword) {
		return withMessage(errAPIWrongPassword, wrongPasswordMessage)
	}
	if err == nil {
		err = s.sessions.Reauthenticate(ctx)
	}
	if err != nil {
		return err
	}
	s.sessions.BindCredentials(ctx, epochOf(checked))
	s.record(r, audit.Event{Type: audit.Reauthenticated, Via: audit.ViaApp, ActorID: u.ID, SubjectID: u.ID,
		SessionHandle: s.sessions.Handle(ctx)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiPasswordChange changes the signed-in user's password (POST
// /api/v1/account/password {"current_password", "new_password"}) exactly as
// the form does (account.Service.ChangePassword after checkOwnPassword):
// every other session, browser or app, ends; this one stays, bound to the
// new credential epoch. 200 {"sessions_ended": n}. A wrong current password
// is 403 (errAPIWrongPassword, audited via app) with current_password in
// "errors", a weak or invalid new one 422 with the field in "errors".
func (s *Server) apiPasswordChange(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if errs := account.PasswordFieldErrors(in.Current, in.New); errs != nil {
		return apiFieldErrors(errs)
	}
	ctx := r.Context()
	checked, err := s.checkOwnPassword(r, currentUser(ctx), in.Current, "changing the password")
	if errors.Is(err, errWrongPassword) {
		return apiFieldError(errAPIWrongPassword, "current_password", wrongPasswordMessage)
	} else if err != nil {
		return err
	}
	res, err := s.accounts.ChangePassword(ctx, s.actor(r, audit.ViaApp), s.sessions, checked, in.New)
	var fields account.FieldErrors
	if errors.As(err, &fields) {
		return apiFieldErrors(fields)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/json", struct {
		SessionsEnded int `json:"sessions_ended"`
	}{len(res.Ended)})
	return nil
}

// apiFieldErrors renames the form's field names to the API's
// ("password" → "new_password") and returns them as a 422 error whose
// problem lists them in "errors".
func apiFieldErrors(f account.FieldErrors) error {
	out := account.FieldErrors{}
	for k, v := range f {
		if k == "password" {
			k = "new_password"
		}
		out[k] = v
	}
	return withMessage(fmt.Errorf("%w: %w", user.ErrInvalid, out), "Some fields need to be changed: see errors.")
}
