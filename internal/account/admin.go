package account

import (
	"context"
	"fmt"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// Changed is the result of Disable, Enable and SetRole.
type Changed struct {
	// Already is true when the account already was in the wanted state:
	// nothing was stored (Disable still ends any session it has).
	Already bool
	// Ended are the sessions ended.
	Ended []session.Record
	// RevokeErr is non-nil when the change is stored but the account's
	// sessions could not be revoked (the error returned then wraps it).
	RevokeErr error
	Outcome
}

// Disable disables account subject (as just read from the store) and ends
// all its sessions, in this order: the flag is stored, which also moves
// the credential epoch (logins are refused and every session of the
// account ends at its next request, on every instance, even if the
// revocation below fails); its sessions are revoked; audit.AccountDisabled
// is recorded with "N sessions ended", or "its sessions could not be
// ended yet" when the revocation failed. An account already disabled is
// not stored again: its sessions, if any remain, are ended and recorded as
// audit.SessionsRevoked. Errors: ErrOwnAccount when the actor is subject;
// user.ErrNotFound; the revocation's (after the event is recorded: the
// account is locked out, the caller may try again to end the sessions).
func (s *Service) Disable(ctx context.Context, a Actor, subject *user.User) (Changed, error) {
	if a.UserID != 0 && a.UserID == subject.ID {
		return Changed{}, ErrOwnAccount
	}
	if subject.Disabled {
		ended, err := s.sessions.RevokeUser(ctx, subject.ID, "")
		s.counter.SessionsRevoked(CauseDisabled, len(ended))
		if err != nil {
			return Changed{Already: true, RevokeErr: err}, fmt.Errorf("account: disable: %w", err)
		}
		res := Changed{Already: true, Ended: ended}
		if len(ended) > 0 {
			s.log.InfoContext(ctx, "sessions revoked", append([]any{"user_id", subject.ID, "count", len(ended)}, a.logAttrs()...)...)
			res.Audit = s.record(ctx, a, audit.Event{Type: audit.SessionsRevoked, SubjectID: subject.ID,
				Detail: CountSessions(len(ended)) + " ended"})
		}
		return res, nil
	}
	var res Changed
	var err error
	err, res.StateCopy = s.changed(subject.ID, s.users.SetDisabled(ctx, subject.ID, true))
	if err != nil {
		return Changed{}, fmt.Errorf("account: disable: %w", err)
	}
	ended, revokeErr := s.sessions.RevokeUser(ctx, subject.ID, "")
	s.counter.SessionsRevoked(CauseDisabled, len(ended))
	res.Ended, res.RevokeErr = ended, revokeErr
	detail := CountSessions(len(ended)) + " ended"
	if revokeErr != nil {
		detail = "its sessions could not be ended yet"
	}
	s.log.InfoContext(ctx, "account disabled", append([]any{"user_id", subject.ID, "sessions_ended", len(ended)}, a.logAttrs()...)...)
	res.Audit = s.record(ctx, a, audit.Event{Type: audit.AccountDisabled, SubjectID: subject.ID, Detail: detail})
	if revokeErr != nil {
		return res, fmt.Errorf("account: disable: the account is disabled, but its sessions could not be ended: %w", revokeErr)
	}
	return res, nil
}

// Enable enables disabled account subject and records
// audit.AccountEnabled. Sessions from before it was disabled stay invalid
// (the credential epoch). An account that is not disabled is left alone
// (Already). Errors: user.ErrNotFound; the store's.
func (s *Service) Enable(ctx context.Context, a Actor, subject *user.User) (Changed, error) {
	if !subject.Disabled {
		return Changed{Already: true}, nil
	}
	var res Changed
	var err error
	err, res.StateCopy = s.changed(subject.ID, s.users.SetDisabled(ctx, subject.ID, false))
	if err != nil {
		return Changed{}, fmt.Errorf("account: enable: %w", err)
	}
	s.log.InfoContext(ctx, "account enabled", append([]any{"user_id", subject.ID}, a.logAttrs()...)...)
	res.Audit = s.record(ctx, a, audit.Event{Type: audit.AccountEnabled, SubjectID: subject.ID})
	return res, nil
}

// SetRole gives account subject the role role. A privilege change ends
// every session of the account, so the new role applies from the next
// login: the role is stored with a new credential epoch (and its unused
// reset links dropped), its sessions are revoked, and audit.RoleChanged is
// recorded as "role OLD → NEW" (with "; its sessions could not be ended
// yet" when the revocation failed). Setting the role it has does nothing
// (Already). Errors: FieldErrors{"role"} (Invalid) for an unknown role;
// user.ErrNotFound; the revocation's, after the event is recorded.
func (s *Service) SetRole(ctx context.Context, a Actor, subject *user.User, role user.Role) (Changed, error) {
	if !role.Valid() {
		return Changed{}, invalid("set role", FieldErrors{"role": fmt.Sprintf("Unknown role %q; choose admin or user.", role)})
	}
	if subject.Role == role {
		return Changed{Already: true}, nil
	}
	if s.roles == nil {
		return Changed{}, fmt.Errorf("account: set role: no role store configured")
	}
	var res Changed
	var err error
	err, res.StateCopy = s.changed(subject.ID, s.roles.SetRole(ctx, subject.ID, role))
	if err != nil {
		return Changed{}, fmt.Errorf("account: set role: %w", err)
	}
	ended, revokeErr := s.sessions.RevokeUser(ctx, subject.ID, "")
	s.counter.SessionsRevoked(causeOf(a), len(ended))
	res.Ended, res.RevokeErr = ended, revokeErr
	detail := fmt.Sprintf("role %s → %s", subject.Role, role)
	if revokeErr != nil {
		detail += "; its sessions could not be ended yet"
	}
	s.log.InfoContext(ctx, "role changed", append([]any{"user_id", subject.ID, "role", string(role), "sessions_ended", len(ended)},
		a.logAttrs()...)...)
	res.Audit = s.record(ctx, a, audit.Event{Type: audit.RoleChanged, SubjectID: subject.ID, Detail: detail})
	if revokeErr != nil {
		return res, fmt.Errorf("account: set role: the role is changed, but its sessions could not be ended: %w", revokeErr)
	}
	return res, nil
}

// ResetLink is a one-time password reset link just made: the token goes
// in /reset/<token>; it is shown once and never stored or logged.
type ResetLink struct {
	Token   string
	Expires time.Time // UTC, whole seconds
	Outcome
}

// IssueResetLink makes a one-time reset link for account subject that
// works once until now + store.ResetLinkLifetime (30 minutes), replacing
// any earlier unused link, and records audit.PasswordResetLink with
// "valid until 15:04 UTC" (never the link). Errors: ErrDisabled for a
// disabled account (its link would not work); user.ErrNotFound; the store's.
func (s *Service) IssueResetLink(ctx context.Context, a Actor, subject *user.User) (ResetLink, error) {
	if subject.Disabled {
		return ResetLink{}, ErrDisabled
	}
	if s.resets == nil {
		return ResetLink{}, fmt.Errorf("account: issue reset link: no reset store configured")
	}
	token, expires, err := s.resets.CreatePasswordReset(ctx, subject.ID, s.clock())
	if err != nil {
		return ResetLink{}, fmt.Errorf("account: issue reset link: %w", err)
	}
	s.log.InfoContext(ctx, "password reset link created", append([]any{"user_id", subject.ID}, a.logAttrs()...)...)
	auditErr := s.record(ctx, a, audit.Event{Type: audit.PasswordResetLink, SubjectID: subject.ID,
		Detail: "valid until " + expires.UTC().Format("15:04 MST")})
	return ResetLink{Token: token, Expires: expires, Outcome: Outcome{Audit: auditErr}}, nil
}
