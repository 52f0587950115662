package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/randtoken"
	"github.com/latch/latch/internal/user"
)

// One-time password reset links (table password_resets, migration 00006).
// A link is /reset/<token>: the token is 256 random bits, made here, given
// to the caller once and never stored; the table keeps its SHA-256, so a
// copy of the database opens no account. A link works for
// ResetLinkLifetime and once: using it is one conditional UPDATE, so of
// two submissions racing with the same link exactly one succeeds.
//
// Times are passed in by the caller (the server's clock, or time.Now in the
// CLI) rather than read here, so tests cross the expiry without waiting.

// ResetLinkLifetime is how long a reset link works after it is made.
const ResetLinkLifetime = 30 * time.Minute

// resetRowsKept is how long the row of a link is kept after it expired,
// used or not; older rows are deleted when a new link is made.
const resetRowsKept = 24 * time.Hour

// CreatePasswordReset makes a reset link for account userID that works from
// now until now + ResetLinkLifetime, and returns its token (43 URL-safe
// characters) and expiry (UTC, whole seconds). Any earlier unused link of
// the account stops working: an account has at most one. Errors:
// user.ErrNotFound when there is no such account.
func (db *DB) CreatePasswordReset(ctx context.Context, userID int64, now time.Time) (token string, expires time.Time, err error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	token = randtoken.New(32)
	now = now.UTC().Truncate(time.Second)
	expires = now.Add(ResetLinkLifetime)

	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: create password reset: %w", err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, db.rebind("SELECT 1 FROM users WHERE id = ?"), userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, fmt.Errorf("store: create password reset: %w", user.ErrNotFound)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: create password reset: %w", err)
	}
	for _, q := range []struct {
		query string
		args  []any
	}{
		{dropUnusedResetLinksSQL, []any{userID}},
		{"DELETE FROM password_resets WHERE expires < ?", []any{db.timeArg(now.Add(-resetRowsKept))}},
		{"INSERT INTO password_resets (token_hash, user_id, created, expires) VALUES (?, ?, ?, ?)",
			[]any{resetTokenHash(token), userID, db.timeArg(now), db.timeArg(expires)}},
	} {
		if _, err := tx.ExecContext(ctx, db.rebind(q.query), q.args...); err != nil {
			return "", time.Time{}, fmt.Errorf("store: create password reset: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", time.Time{}, fmt.Errorf("store: create password reset: %w", err)
	}
	return token, expires, nil
}

// PasswordResetUser returns the account whose reset link token is, if the
// link can still be used at now; it does not use it up. Errors:
// user.ErrResetInvalid when the token is unknown, the link has expired or
// it has been used (deliberately one error for the three).
func (db *DB) PasswordResetUser(ctx context.Context, token string, now time.Time) (int64, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	var id int64
	err := db.db.QueryRowContext(ctx, db.rebind(
		"SELECT user_id FROM password_resets WHERE token_hash = ? AND used_at IS NULL AND expires > ?"),
		resetTokenHash(token), db.timeArg(now.UTC().Truncate(time.Second)),
	).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: password reset user: %w", user.ErrResetInvalid)
	}
	if err != nil {
		return 0, fmt.Errorf("store: password reset user: %w", err)
	}
	return id, nil
}

// ConsumePasswordReset uses up the reset link token at now and returns its
// account. It is one conditional UPDATE (… WHERE used_at IS NULL AND
// expires > now RETURNING user_id), so when several callers race with the
// same token exactly one gets the account. Errors: user.ErrResetInvalid as
// for PasswordResetUser.
func (db *DB) ConsumePasswordReset(ctx context.Context, token string, now time.Time) (int64, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	id, err := db.consumeReset(ctx, db.db, token, now)
	if err != nil {
		return 0, fmt.Errorf("store: consume password reset: %w", err)
	}
	return id, nil
}

// ResetPassword uses up the reset link token at now (as
// ConsumePasswordReset), sets its account's password hash, moves the
// account's credential epoch to now (see InvalidateSessions) and makes its
// other unused links, if any, unusable: all or nothing, in one transaction.
// It returns the account. Errors: user.ErrResetInvalid as for
// PasswordResetUser, in which case nothing has changed; one matching
// user.ErrStateCopyNotWritten, with the account, when the reset is done
// but the state copy could not be written (see changeUser).
func (db *DB) ResetPassword(ctx context.Context, token, hash string, now time.Time) (int64, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	if hash == "" {
		return 0, errors.New("store: reset password: empty hash")
	}
	// The account is looked up first so that its state copy can be held
	// before the change (changeUser); the transaction then uses the link
	// up, and only a link of that same account counts.
	id, err := db.PasswordResetUser(ctx, token, now)
	if err != nil {
		return 0, fmt.Errorf("store: reset password: %w", err)
	}
	err = db.changeUser(ctx, id, func(ctx context.Context, tx *sql.Tx) error {
		used, err := db.consumeReset(ctx, tx, token, now)
		if err != nil {
			return err
		}
		if used != id {
			return user.ErrResetInvalid
		}
		if err := db.execUserTx(ctx, tx, "UPDATE users SET password_hash = ?, "+db.epochAssignment()+" WHERE id = ?",
			hash, now.Unix(), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.rebind(dropUnusedResetLinksSQL), id)
		return err
	})
	if errors.Is(err, user.ErrStateCopyNotWritten) {
		return id, fmt.Errorf("store: reset password: %w", err) // the reset is done
	}
	if err != nil {
		return 0, fmt.Errorf("store: reset password: %w", err)
	}
	return id, nil
}

// queryRower is *sql.DB or *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// consumeReset marks the link used at now if it is unused and unexpired,
// and returns its account; user.ErrResetInvalid otherwise.
func (db *DB) consumeReset(ctx context.Context, q queryRower, token string, now time.Time) (int64, error) {
	now = now.UTC().Truncate(time.Second)
	var id int64
	err := q.QueryRowContext(ctx, db.rebind(`
		UPDATE password_resets SET used_at = ?
		WHERE token_hash = ? AND used_at IS NULL AND expires > ?
		RETURNING user_id`),
		db.timeArg(now), resetTokenHash(token), db.timeArg(now),
	).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, user.ErrResetInvalid
	}
	return id, err
}

// resetTokenHash is what password_resets stores for token: the lower-case
// hex SHA-256 of it.
func resetTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
