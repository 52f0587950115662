package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/user"
)

// The state copy. The session middleware builds the principal of a
// signed-in request from a copy of the account's state kept beside the
// session (session.RedisStore: same Redis, read by the same script as the
// session), so that such a request needs no SQL. SQL stays the source of
// truth, and every change of the copied fields (credential epoch, role,
// disabled, email, name, newest new-device sign-in) goes through
// changeUser, so that no caller — web handler, CLI, reset link — can
// forget the copy:
//
//  1. HoldUserState: the copy is marked as changing (a hold count on it,
//     and a short expiry). A held copy is not used by readers (they read
//     SQL, failing closed) and refuses populates. If the hold cannot be
//     written, the change is refused and nothing has changed.
//  2. The SQL transaction makes the change, adds one to users.state_version
//     and reads the row back.
//  3. PutUserState writes the row's state with its version, releasing the
//     hold; a copy of a higher version is never replaced. A failure here is
//     reported (user.ErrStateCopyNotWritten) and the held copy expires
//     within the hold's lifetime, after which readers populate it from SQL.
//
// Why a hold and not only "delete, update, write": a request that read the
// old row from SQL just before the update could otherwise populate the
// copy with the old state after the deletion; the version check stops it
// only once the new copy is written, and if that write fails the old state
// would stand until the copy's TTL. With the hold it is refused. A reader
// that finds no copy (or a held one) reads SQL and populates with the
// version it read (refused by a hold or a newer version).
type UserStateCache interface {
	// HoldUserState marks userID's copy as about to change (see above).
	HoldUserState(ctx context.Context, userID int64) error
	// ReleaseUserState drops one hold after a change that did not happen.
	ReleaseUserState(ctx context.Context, userID int64) error
	// PutUserState writes u's state (never its password hash) after a
	// change and drops one hold; a stored copy whose version is not lower
	// than u.StateVersion is kept.
	PutUserState(ctx context.Context, u *user.User) error
}

// SetUserStateCache makes every change of an account's state keep c's copy
// right (see changeUser). Call it before the DB is used; nil (the default,
// and the embedded mode) keeps no copy.
func (db *DB) SetUserStateCache(c UserStateCache) { db.stateCache = c }

// changeUser runs fn (the UPDATEs of one change of account id) in a
// transaction that also adds one to users.state_version and reads the row
// back, between HoldUserState and PutUserState of the state cache, if any
// (see UserStateCache). Errors: fn's, user.ErrNotFound when no account has
// id, a wrapped cache error when the hold fails (nothing changed), and one
// matching user.ErrStateCopyNotWritten when only the copy's write failed
// (the change is stored).
func (db *DB) changeUser(ctx context.Context, id int64, fn func(ctx context.Context, tx *sql.Tx) error) error {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	if db.stateCache != nil {
		if err := db.stateCache.HoldUserState(ctx, id); err != nil {
			return fmt.Errorf("hold the account's state copy: %w", err)
		}
	}
	u, err := db.changeUserTx(ctx, id, fn)
	if err != nil {
		if db.stateCache != nil {
			_ = db.stateCache.ReleaseUserState(ctx, id) // else the hold expires by itself
		}
		return err
	}
	if db.stateCache != nil {
		if err := db.stateCache.PutUserState(ctx, u); err != nil {
			return fmt.Errorf("%w: %w", user.ErrStateCopyNotWritten, err)
		}
	}
	return nil
}

func (db *DB) changeUserTx(ctx context.Context, id int64, fn func(ctx context.Context, tx *sql.Tx) error) (*user.User, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := fn(ctx, tx); err != nil {
		return nil, err
	}
	u, err := db.scanUser(tx.QueryRowContext(ctx, db.rebind(
		"UPDATE users SET state_version = state_version + 1 WHERE id = ? RETURNING "+userColumns), id))
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return u, nil
}

// execUserTx runs an UPDATE of one account (query ends in "WHERE id = ?")
// in tx and returns user.ErrNotFound when it changed no row.
func (db *DB) execUserTx(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, db.rebind(query), args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return user.ErrNotFound
	}
	return nil
}
