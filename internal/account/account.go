// Package account is Latch's use-case layer for accounts and their
// sessions (Ben Johnson's WTF Dial "services" shape): each operation a
// person, an administrator or an operator can take — create an account,
// change or reset its password, make a reset link, disable, enable, change
// the role, revoke one session, all of an account's, or all but the
// current one — is one method of Service that does the store write, the
// revocation and the audit event exactly once, in that operation's order,
// with one detail format. The web handlers (internal/server) and the CLI
// (cmd/latch) are thin adapters over it: they parse input, call a method
// with an Actor saying who acts, and render the result; a native-app API
// would be a third.
//
// The package declares the small interfaces it needs (consumer side); the
// SQL store (internal/store), the session stores (internal/session), the
// password hasher (internal/password) and the strength checker
// (internal/user) satisfy them.
package account

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/medama-io/go-useragent"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// UserStore is the part of the SQL store that holds accounts
// (*store.DB). Every change of an account goes through the store's state
// copy protocol; an error matching user.ErrStateCopyNotWritten means the
// change is stored but the copy beside the sessions is not (Outcome.StateCopy).
type UserStore interface {
	// CreateUser inserts u and sets u.ID, u.Email (normalised), u.Role
	// and u.CreatedAt. Errors: user.ErrEmailTaken, a *user.ValidationError.
	CreateUser(ctx context.Context, u *user.User) error
	// UserByID returns account id. Errors: user.ErrNotFound.
	UserByID(ctx context.Context, id int64) (*user.User, error)
	// SetPassword stores hash and moves the credential epoch to at, in
	// one step. Errors: user.ErrNotFound.
	SetPassword(ctx context.Context, id int64, hash string, at time.Time) error
	// SetDisabled disables (moving the credential epoch to now) or
	// enables account id. Errors: user.ErrNotFound.
	SetDisabled(ctx context.Context, id int64, disabled bool) error
}

// RoleStore changes an account's role (*store.DB): the role and the
// credential epoch in one step. Errors: user.ErrNotFound; one wrapping
// user.ErrInvalid for an unknown role.
type RoleStore interface {
	SetRole(ctx context.Context, id int64, role user.Role) error
}

// PasswordResets makes and uses one-time password reset links (*store.DB).
type PasswordResets interface {
	// CreatePasswordReset makes a link for userID, replacing any unused
	// one, valid from now for store.ResetLinkLifetime. Errors: user.ErrNotFound.
	CreatePasswordReset(ctx context.Context, userID int64, now time.Time) (token string, expires time.Time, err error)
	// PasswordResetUser returns the account of a link usable at now.
	// Errors: user.ErrResetInvalid.
	PasswordResetUser(ctx context.Context, token string, now time.Time) (int64, error)
	// ResetPassword uses the link up (exactly one of racing callers
	// succeeds), stores hash and moves the epoch to now. Errors:
	// user.ErrResetInvalid; user.ErrStateCopyNotWritten with the account.
	ResetPassword(ctx context.Context, token, hash string, now time.Time) (int64, error)
}

// AuditLog stores security events (*store.DB).
type AuditLog interface {
	InsertAuditEvent(ctx context.Context, e *audit.Event) error
}

// Sessions is the part of the session registry (session.Registry, both
// session stores) that lists and revokes sessions.
type Sessions interface {
	UserSessions(ctx context.Context, userID int64) ([]session.Record, error)
	Revoke(ctx context.Context, handle string) (rec session.Record, found bool, err error)
	RevokeUser(ctx context.Context, userID int64, except string) ([]session.Record, error)
}

// PasswordHasher hashes new passwords (*password.Hasher: bounded
// concurrency; password.ErrBusy when full).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
}

// StrengthJudge tells how guessable a new password is (*user.StrengthChecker):
// "" when good enough, else a message for the person; user.ErrStrengthBusy
// when its pool is full.
type StrengthJudge interface {
	Check(ctx context.Context, password string, hints ...string) (string, error)
}

// OwnSession is the session the acting person is using, for the
// operations that change it (a password change rotates it and binds it to
// the new credential epoch; a reset by link signs the person in with a new
// one). *session.Manager is one, with the request's context.
type OwnSession interface {
	Handle(ctx context.Context) string
	Reauthenticate(ctx context.Context) error
	BindCredentials(ctx context.Context, epoch int64)
	Login(ctx context.Context, userID int64, remember bool) error
}

// Deps are a Service's dependencies. Users and Audit are required;
// Sessions by every operation that revokes sessions (all but CreateUser,
// IssueResetLink and ResetLinkAccount); Roles (SetRole), Resets (reset
// links), Hasher and Strength (CreateUser, ChangePassword, ResetPassword)
// only by the operations that use them, which fail with an Internal error
// without them. Clock defaults to time.Now, Log to discarding.
type Deps struct {
	Users    UserStore
	Roles    RoleStore
	Resets   PasswordResets
	Audit    AuditLog
	Sessions Sessions
	Hasher   PasswordHasher
	Strength StrengthJudge
	Clock    func() time.Time
	Log      *slog.Logger
	// Counter counts sessions created and revoked (nil: nothing counted).
	Counter Counter
}

// Service carries out account operations. It is safe for concurrent use.
type Service struct {
	users    UserStore
	roles    RoleStore
	resets   PasswordResets
	audit    AuditLog
	sessions Sessions
	hasher   PasswordHasher
	strength StrengthJudge
	clock    func() time.Time
	log      *slog.Logger
	counter  Counter
	agents   *useragent.Parser
}

// New returns a Service over d.
func New(d Deps) *Service {
	s := &Service{
		users: d.Users, roles: d.Roles, resets: d.Resets, audit: d.Audit, sessions: d.Sessions,
		hasher: d.Hasher, strength: d.Strength, clock: d.Clock, log: d.Log, counter: d.Counter,
		agents: useragent.NewParser(),
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.counter == nil {
		s.counter = noCounter{}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s
}

// Actor is the principal taking an action, as its audit event records it.
type Actor struct {
	// Via is the channel: audit.ViaSelf (a person on their own account),
	// audit.ViaAdmin (an administrator in the web admin), audit.ViaCLI.
	Via audit.Via
	// UserID is the acting account; 0 when none is known (the CLI, or a
	// person not yet signed in: registration, a reset link — their
	// events name the account acted on as actor).
	UserID int64
	// SessionHandle is the public handle of the actor's own session (""
	// for the CLI): recorded with the event, and never revoked by a
	// revocation the actor makes.
	SessionHandle string
	// IP and UserAgent are the client's (web); "" for the CLI.
	IP, UserAgent string
}

// CLI is the actor of an operator command: Via audit.ViaCLI and no
// account (the CLI does not know which person runs it), as the CLI's
// events have always recorded.
func CLI() Actor { return Actor{Via: audit.ViaCLI} }

// Outcome is what an operation that was carried out reports besides its
// result: the failures that did not undo it. Both are logged already.
type Outcome struct {
	// StateCopy is non-nil (matching user.ErrStateCopyNotWritten) when the
	// change is stored in SQL but the account's state copy beside the
	// sessions was not written: the copy was held before the change, so
	// readers fail closed to SQL until it expires (store changeUser).
	StateCopy error
	// Audit is non-nil when the audit event could not be stored.
	Audit error
}

// Errors of the operations, besides the stores'. Each has a fail kind.
var (
	// ErrOwnAccount: an administrator tried to disable their own account.
	ErrOwnAccount = fail.New(fail.Invalid, "account: an administrator cannot disable their own account")
	// ErrDisabled: a reset link was asked for a disabled account (it
	// would not work).
	ErrDisabled = fail.New(fail.Conflict, "account: the account is disabled")
	// ErrCurrentSession: the actor tried to revoke the session they are
	// using (logging out ends it).
	ErrCurrentSession = fail.New(fail.Invalid, "account: that is the actor's current session")
	// ErrNoSession: no active session has that handle (or, for a person
	// revoking their own, none of theirs has).
	ErrNoSession = fail.New(fail.NotFound, "account: no such active session")
)

// FieldErrors is the cause of an Invalid error from CreateUser,
// ChangePassword, ResetPassword or SetRole: the input fields that are
// wrong ("email", "name", "password", "role"), each with a message meant
// for the person. Get it with errors.As.
type FieldErrors map[string]string

// Error lists the fields in a fixed order: "password: Use at least 12 characters".
func (f FieldErrors) Error() string {
	msg := ""
	for _, k := range []string{"email", "name", "password", "role"} {
		if m, ok := f[k]; ok {
			if msg != "" {
				msg += "; "
			}
			msg += k + ": " + m
		}
	}
	return msg
}

func invalid(op string, fields FieldErrors) error {
	return fail.Wrap(fail.Invalid, fields, "account: "+op)
}

// record stores e as done by a, adding the time, the channel, the actor
// and the client; a failure is logged and returned (the action it
// describes has happened: callers report it, they do not undo anything).
func (s *Service) record(ctx context.Context, a Actor, e audit.Event) error {
	e.Time = s.clock().UTC().Truncate(time.Second)
	e.Via = a.Via
	if e.ActorID == 0 {
		e.ActorID = a.UserID
	}
	e.IP, e.UserAgent = a.IP, a.UserAgent
	if e.SessionHandle == "" {
		e.SessionHandle = a.SessionHandle
	}
	if err := s.audit.InsertAuditEvent(ctx, &e); err != nil {
		s.log.ErrorContext(ctx, "audit event not recorded", "event", string(e.Type), "actor_id", e.ActorID,
			"subject_id", e.SubjectID, "via", string(e.Via), "err", err)
		return fmt.Errorf("account: record %s: %w", e.Type, err)
	}
	return nil
}

// changed splits the error of a store change of account id: one saying
// only that the state copy was not written is logged and returned as the
// second value (the change stands); anything else is the first.
func (s *Service) changed(id int64, err error) (failed, stateCopy error) {
	if errors.Is(err, user.ErrStateCopyNotWritten) {
		s.log.Warn("account changed; its state copy was not written and is read from SQL until it expires",
			"user_id", id, "err", err)
		return nil, err
	}
	return err, nil
}

// logAttrs are the log fields naming a.
func (a Actor) logAttrs() []any {
	attrs := []any{"via", string(a.Via)}
	if a.UserID != 0 {
		attrs = append(attrs, "actor_id", a.UserID)
	}
	if a.IP != "" {
		attrs = append(attrs, "client_ip", a.IP)
	}
	return attrs
}

// judge runs the strength check of a new password pw for an account with
// email and name; a weak one is FieldErrors{"password": …}.
func (s *Service) judge(ctx context.Context, op, pw, email, name string) error {
	if s.strength == nil {
		return fmt.Errorf("account: %s: no strength judge configured", op)
	}
	msg, err := s.strength.Check(ctx, pw, user.PasswordHints(email, name)...)
	if err != nil {
		return fmt.Errorf("account: %s: %w", op, err)
	}
	if msg != "" {
		return invalid(op, FieldErrors{"password": msg})
	}
	return nil
}

// hash hashes a new password in the bounded hashing pool.
func (s *Service) hash(ctx context.Context, op, pw string) (string, error) {
	if s.hasher == nil {
		return "", fmt.Errorf("account: %s: no password hasher configured", op)
	}
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return "", fmt.Errorf("account: %s: %w", op, err)
	}
	return h, nil
}

// CountSessions is "1 session" or "N sessions", as every detail says it.
func CountSessions(n int) string {
	if n == 1 {
		return "1 session"
	}
	return strconv.Itoa(n) + " sessions"
}
