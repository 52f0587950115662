package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// NewUser is the input of CreateUser, as typed.
type NewUser struct {
	Email, Name, Password string
	Role                  user.Role // "" means user.RoleUser
}

// CreateUser creates an account, in this order, cheap to costly: the
// field rules (user.ValidateRegistration), the strength check of the
// password given the email and name (in the bounded strength pool), the
// hash (the bounded hashing pool), the insert; then audit.UserCreated
// with the address and "role R". When the actor has no account (a person
// registering), the new account is recorded as its own actor. Callers
// that have a quota to count (the web's per-IP registration quota) check
// the field rules first and count it before calling. Errors: FieldErrors
// (Invalid) naming the wrong fields; user.ErrEmailTaken; the pools'
// (password.ErrBusy, user.ErrStrengthBusy); the store's.
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (*user.User, Outcome, error) {
	if errs := user.ValidateRegistration(in.Email, in.Name, in.Password); len(errs) > 0 {
		return nil, Outcome{}, invalid("create user", FieldErrors(errs))
	}
	email, _, _ := user.NormalizeEmail(in.Email) // valid: checked above; NFKC, as the store keeps it
	name := strings.TrimSpace(in.Name)
	if err := s.judge(ctx, "create user", in.Password, email, name); err != nil {
		return nil, Outcome{}, err
	}
	hash, err := s.hash(ctx, "create user", in.Password)
	if err != nil {
		return nil, Outcome{}, err
	}
	role := in.Role
	if role == "" {
		role = user.RoleUser
	}
	u := &user.User{Email: email, Name: name, PasswordHash: hash, Role: role}
	if err := s.users.CreateUser(ctx, u); err != nil {
		return nil, Outcome{}, fmt.Errorf("account: create user: %w", err)
	}
	actorID := a.UserID
	if actorID == 0 && a.Via == audit.ViaSelf {
		actorID = u.ID
	}
	s.log.InfoContext(ctx, "user created", append([]any{"user_id", u.ID, "role", string(u.Role)}, a.logAttrs()...)...)
	auditErr := s.record(ctx, a, audit.Event{Type: audit.UserCreated, ActorID: actorID, SubjectID: u.ID,
		Email: u.Email, Detail: "role " + string(u.Role)})
	return u, Outcome{Audit: auditErr}, nil
}

// PasswordFieldErrors returns the cheap rules' verdict on a password change
// form (nil when none): the current password must be given, the new one
// must pass user.ValidatePassword and differ from the current one. Adapters
// call it before checking the current password.
func PasswordFieldErrors(current, pw string) FieldErrors {
	errs := FieldErrors{}
	if current == "" {
		errs["current_password"] = "Enter your current password"
	}
	if msg := user.ValidatePassword(pw); msg != "" {
		errs["password"] = msg
	} else if pw == current {
		errs["password"] = "Choose a password different from your current one"
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// PasswordChanged is the result of ChangePassword.
type PasswordChanged struct {
	// Ended are the other sessions revoked at once.
	Ended []session.Record
	// RevokeErr is non-nil when they could not be revoked at once; they
	// end at their next request all the same (the credential epoch).
	RevokeErr error
	Outcome
}

// ChangePassword sets a new password pw for the actor's own account, whose
// current password the caller has just verified: checked is the account
// record that verification read (its credential epoch is the one read with
// the hash). In this order: the strength check (given the account's email
// and name); the hash; own, the actor's session, gets a new token and
// counts as just authenticated (Reauthenticate: if it was revoked meanwhile
// nothing is changed); the hash is stored and the credential epoch moved
// to now in one step, so every other session ends at its next request on
// every instance; own is bound to the new epoch (a concurrent second change
// makes it wrong and ends this session too: fails closed); every other
// session is revoked at once; audit.PasswordChanged is recorded with "N
// sessions ended, all but the current one" (or that they end at their next
// request). Errors: FieldErrors{"password"}; the pools'; session.ErrGone
// and session.ErrRotated from Reauthenticate (nothing changed); the store's.
func (s *Service) ChangePassword(ctx context.Context, a Actor, own OwnSession, checked *user.User, pw string) (PasswordChanged, error) {
	if msg := user.ValidatePassword(pw); msg != "" {
		return PasswordChanged{}, invalid("change password", FieldErrors{"password": msg})
	}
	if err := s.judge(ctx, "change password", pw, checked.Email, checked.Name); err != nil {
		return PasswordChanged{}, err
	}
	hash, err := s.hash(ctx, "change password", pw)
	if err != nil {
		return PasswordChanged{}, err
	}
	// The epoch is read before Reauthenticate reads the clock, so this
	// session's new authentication time is never before it. Rotating first
	// means a session revoked meanwhile changes nothing.
	now := s.clock()
	if err := own.Reauthenticate(ctx); err != nil {
		return PasswordChanged{}, fmt.Errorf("account: change password: %w", err)
	}
	var res PasswordChanged
	err, res.StateCopy = s.changed(checked.ID, s.users.SetPassword(ctx, checked.ID, hash, now))
	if err != nil {
		return PasswordChanged{}, fmt.Errorf("account: change password: %w", err)
	}
	own.BindCredentials(ctx, checked.NextCredentialEpoch(now))
	handle := own.Handle(ctx)
	res.Ended, res.RevokeErr = s.sessions.RevokeUser(ctx, checked.ID, handle)
	s.counter.SessionsRevoked(CausePasswordChange, len(res.Ended))
	detail := CountSessions(len(res.Ended)) + " ended, all but the current one"
	if res.RevokeErr != nil {
		detail = "other sessions end at their next request (they could not be revoked at once)"
		s.log.WarnContext(ctx, "password change: other sessions not revoked; they end at their next request",
			"user_id", checked.ID, "err", res.RevokeErr)
	}
	s.log.InfoContext(ctx, "password changed", append([]any{"user_id", checked.ID, "sessions_ended", len(res.Ended)}, a.logAttrs()...)...)
	res.Audit = s.record(ctx, a, audit.Event{Type: audit.PasswordChanged, ActorID: checked.ID, SubjectID: checked.ID,
		SessionHandle: handle, Detail: detail})
	return res, nil
}

// ResetLinkAccount returns the account of reset link token when the link
// can be used now (unknown, expired and used links, and links of disabled
// or deleted accounts, are one error: user.ErrResetInvalid). It does not
// use the link up. Errors: user.ErrResetInvalid; the store's.
func (s *Service) ResetLinkAccount(ctx context.Context, token string) (*user.User, error) {
	if s.resets == nil {
		return nil, fmt.Errorf("account: reset link: no reset store configured")
	}
	id, err := s.resets.PasswordResetUser(ctx, token, s.clock())
	if err != nil {
		return nil, fmt.Errorf("account: reset link: %w", err)
	}
	u, err := s.users.UserByID(ctx, id)
	if errors.Is(err, user.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, fmt.Errorf("account: reset link: %w", user.ErrResetInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("account: reset link: %w", err)
	}
	return u, nil
}

// PasswordReset is the result of ResetPassword.
type PasswordReset struct {
	// Ended are the account's sessions revoked.
	Ended []session.Record
	// Handle is the new session's.
	Handle string
	Outcome
}

// ResetPassword sets a new password pw with reset link token for account
// u (as ResetLinkAccount returned it), and signs the person in with a new
// session in own. In this order: the password rules (user.ValidatePassword,
// then the strength check given u's email and name); the hash; the link is
// used up, the hash stored and the credential epoch moved to now in one
// store transaction (of two submissions racing with one link exactly one
// gets past it); every session of the account is revoked (a failure is
// logged: they end at their next request anyway); own gets a new session
// (fixation-safe, like a login) bound to the new epoch; then
// audit.PasswordReset is recorded with "with a reset link; N sessions
// ended" and the new session's handle — after the caller's afterLogin,
// when not nil, has run with that handle (the web records the sign-in's
// device there, as for a login). Errors: FieldErrors{"password"};
// user.ErrResetInvalid (used meanwhile, or expired); the pools'; the
// store's and own.Login's.
func (s *Service) ResetPassword(ctx context.Context, a Actor, own OwnSession, u *user.User, token, pw string,
	afterLogin func(handle string)) (PasswordReset, error) {
	if msg := user.ValidatePassword(pw); msg != "" {
		return PasswordReset{}, invalid("reset password", FieldErrors{"password": msg})
	}
	if err := s.judge(ctx, "reset password", pw, u.Email, u.Name); err != nil {
		return PasswordReset{}, err
	}
	hash, err := s.hash(ctx, "reset password", pw)
	if err != nil {
		return PasswordReset{}, err
	}
	if s.resets == nil {
		return PasswordReset{}, fmt.Errorf("account: reset password: no reset store configured")
	}
	now := s.clock()
	var res PasswordReset
	id, err := s.resets.ResetPassword(ctx, token, hash, now)
	err, res.StateCopy = s.changed(id, err)
	if err != nil {
		return PasswordReset{}, fmt.Errorf("account: reset password: %w", err)
	}
	// The epoch already ends every older session at its next request;
	// revoking them now also removes them from the lists.
	ended, revokeErr := s.sessions.RevokeUser(ctx, id, "")
	s.counter.SessionsRevoked(CausePasswordReset, len(ended))
	res.Ended = ended
	if revokeErr != nil {
		s.log.WarnContext(ctx, "password reset: sessions not revoked; they end at their next request", "user_id", id, "err", revokeErr)
	}
	if err := own.Login(ctx, id, false); err != nil {
		return PasswordReset{}, fmt.Errorf("account: reset password: sign in: %w", err)
	}
	s.counter.SessionCreated()
	own.BindCredentials(ctx, u.NextCredentialEpoch(now)) // as in ChangePassword: a concurrent change fails closed
	res.Handle = own.Handle(ctx)
	if afterLogin != nil {
		afterLogin(res.Handle)
	}
	s.log.InfoContext(ctx, "password reset", append([]any{"user_id", id, "sessions_ended", len(ended)}, a.logAttrs()...)...)
	res.Audit = s.record(ctx, a, audit.Event{Type: audit.PasswordReset, ActorID: id, SubjectID: id,
		SessionHandle: res.Handle, Detail: "with a reset link; " + CountSessions(len(ended)) + " ended"})
	return res, nil
}
