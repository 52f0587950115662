package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The credential epoch (users.sessions_valid_after, migration 00006): any
// credential or privilege change — password change or reset, disabling,
// role change — sets it to the time of the change, and the server refuses
// every session whose password was last entered before it (see
// internal/server requireUser). It is kept in unix seconds and only ever
// moves forward, so a write from an instance whose clock lags cannot bring
// back sessions that a later change ended.

// InvalidateSessions moves account id's credential epoch to at (whole
// seconds) or, when the epoch is already at or after that, one second past
// it: every call gives a new epoch (epochAssignment,
// user.User.NextCredentialEpoch). From their next request, sessions of the
// account in which the password was last entered before the new epoch are
// no longer honoured, on every instance. It deletes nothing; callers also
// revoke the sessions (session.Registry.RevokeUser) for immediate clean-up.
// Like every change of an account's state it goes through changeUser.
// Errors: user.ErrNotFound when there is no such account; those of
// changeUser for the state copy (user.ErrStateCopyNotWritten: the change is
// stored).
func (db *DB) InvalidateSessions(ctx context.Context, id int64, at time.Time) error {
	err := db.changeUser(ctx, id, func(ctx context.Context, tx *sql.Tx) error {
		return db.execUserTx(ctx, tx, "UPDATE users SET "+db.epochAssignment()+" WHERE id = ?", at.Unix(), id)
	})
	if err != nil {
		return fmt.Errorf("store: invalidate sessions: %w", err)
	}
	return nil
}

// SetPassword replaces account id's password hash and moves its credential
// epoch to at (see InvalidateSessions) in one statement, so there is no
// moment when the new password is set but older sessions still count.
// Use it for a password change; SetPasswordHash (which keeps sessions) is
// for upgrading the hash of the same password. Errors: user.ErrNotFound.
func (db *DB) SetPassword(ctx context.Context, id int64, hash string, at time.Time) error {
	if hash == "" {
		return errors.New("store: set password: empty hash")
	}
	if err := db.updateDroppingResetLinks(ctx, id, "UPDATE users SET password_hash = ?, "+db.epochAssignment()+" WHERE id = ?",
		hash, at.Unix(), id); err != nil {
		return fmt.Errorf("store: set password: %w", err)
	}
	return nil
}

// dropUnusedResetLinksSQL deletes an account's reset links that were not
// used: a password change, disabling the account or changing its role
// makes them meaningless (a link made for a user must not become a way
// into an administrator's account), and they must not work again after
// the account is enabled.
const dropUnusedResetLinksSQL = "DELETE FROM password_resets WHERE user_id = ? AND used_at IS NULL"

// updateDroppingResetLinks runs query (an UPDATE of account id that must
// change one row, else user.ErrNotFound) and drops the account's unused
// reset links, as one change of the account (changeUser): either both
// happen or neither.
func (db *DB) updateDroppingResetLinks(ctx context.Context, id int64, query string, args ...any) error {
	return db.changeUser(ctx, id, func(ctx context.Context, tx *sql.Tx) error {
		if err := db.execUserTx(ctx, tx, query, args...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.rebind(dropUnusedResetLinksSQL), id); err != nil {
			return fmt.Errorf("drop unused reset links: %w", err)
		}
		return nil
	})
}

// epochAssignment is the SET clause that moves sessions_valid_after to its
// placeholder's value (unix seconds), and always forward by at least one
// (the rule of user.User.NextCredentialEpoch, which the server relies on):
// every change gives a new epoch, even two changes within one second, so a
// session bound to the previous epoch (session.Manager.BindCredentials)
// never matches again.
func (db *DB) epochAssignment() string {
	if db.dialect == DialectPostgres {
		return "sessions_valid_after = GREATEST(sessions_valid_after + 1, ?)"
	}
	return "sessions_valid_after = max(sessions_valid_after + 1, ?)"
}

// epochScanner reads users.sessions_valid_after (unix seconds, 0 = never)
// into a UTC time.Time that is zero for 0.
type epochScanner struct{ t *time.Time }

// Scan implements sql.Scanner.
func (s epochScanner) Scan(src any) error {
	return scanUnix(src, s.t, func(v int64) time.Time { return time.Unix(v, 0) }, "an epoch")
}

// scanUnix stores in *t the UTC time that fromInt makes of the integer src
// (a unix time in the column's unit), or the zero time for 0 or less.
// what names the column's meaning in the error for a non-integer.
func scanUnix(src any, t *time.Time, fromInt func(int64) time.Time, what string) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("cannot scan %T into %s", src, what)
	}
	*t = time.Time{}
	if v > 0 {
		*t = fromInt(v).UTC()
	}
	return nil
}
