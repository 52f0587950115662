package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/sqldialect"
)

// SQLStore is the embedded session store: sessions live in the `sessions`
// table of Latch's own SQL database (SQLite by default, PostgreSQL works
// too), so `latch serve` needs no other service. It suits one instance; for
// several instances use Redis. It has the same contract as RedisStore:
// hashed keys, update-only writes unless WithCreate, bounded operations.
// scs ships an sqlite3store, but it needs cgo (mattn/go-sqlite3), keys rows
// by the raw token and upserts, which would resurrect revoked sessions.
type SQLStore struct {
	db      *sql.DB
	dialect string // "sqlite" or "postgres"
	timeout time.Duration
}

var _ Store = (*SQLStore)(nil)

// NewSQLStore returns a store on db, whose schema has the sessions table
// from migrations/. db is the SQL store's pool (store.DB.SQL), whose
// driver marks a database that is down, slow or busy as fail.Unavailable:
// those failures become ErrUnavailable. dialect is "sqlite" or "postgres"
// (placeholder style); timeout bounds each operation (0 = only the
// caller's context).
func NewSQLStore(db *sql.DB, dialect string, timeout time.Duration) *SQLStore {
	return &SQLStore{db: db, dialect: dialect, timeout: timeout}
}

// q rewrites ? placeholders to $n for PostgreSQL (sqldialect.Rebind).
func (s *SQLStore) q(query string) string { return sqldialect.Rebind(s.dialect, query) }

// unavailable wraps a database error of operation op: in ErrUnavailable
// (answered 503) when the database is down, slow or busy; otherwise as a
// plain error (a bug or a constraint violation: 500). The driver errors
// that mean so arrive marked fail.Unavailable (the SQL store's
// instrumented driver, internal/store/driver.go, marks them for every user
// of the *sql.DB); a bare context error is database/sql's own, when the
// operation's context ended before or while it waited for a pooled
// connection, so the driver never saw the call.
func unavailable(op string, err error) error {
	if !errors.Is(err, fail.Unavailable) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("session: sql %s: %w", op, err)
	}
	return fmt.Errorf("session: sql %s: %w: %w", op, ErrUnavailable, err)
}

// FindCtx returns the data of an unexpired session. When there is none and
// the Manager is loading (its slot is in ctx), one more indexed read tells
// the slot whether the token was rotated within rotatedMarkerTTL into a
// session that still exists (rotated); a live session costs one read.
func (s *SQLStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	var b []byte
	now := time.Now().UnixMilli()
	err := s.db.QueryRowContext(ctx, s.q(`SELECT data FROM sessions WHERE token_hash = ? AND expiry > ?`),
		HashToken(token), now).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		if slot := loadedUserFrom(ctx); slot != nil {
			rotated, err := s.rotatedAway(ctx, token, now)
			if err != nil {
				return nil, false, unavailable("find", err)
			}
			slot.rotated = rotated
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable("find", err)
	}
	return b, true, nil
}

// CommitCtx inserts (WithCreate) or updates an unexpired session; an update
// of a missing or expired row returns ErrGone. An expiry in the past deletes.
func (s *SQLStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if !expiry.After(time.Now()) {
		return s.DeleteCtx(ctx, token)
	}
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	rec, hasRec := RecordFrom(ctx)
	cols := recordColumns(rec, hasRec)
	if IsCreate(ctx) {
		return s.create(ctx, token, b, expiry, rec, hasRec, cols)
	}
	query, args := `UPDATE sessions SET data = ?, expiry = ? WHERE token_hash = ? AND expiry > ?`,
		[]any{b, expiry.UnixMilli(), HashToken(token), time.Now().UnixMilli()}
	if hasRec && rec.Handle != "" { // without a record the registry columns are left as they are
		query = `UPDATE sessions SET data = ?, expiry = ?,
			handle = ?, user_id = ?, created = ?, seen = ?, absolute = ?, ip = ?, user_agent = ?, remember = ?
			WHERE token_hash = ? AND expiry > ?`
		args = append(append([]any{b, expiry.UnixMilli()}, cols...), HashToken(token), time.Now().UnixMilli())
	}
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return unavailable("update", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("update", err)
	} else if n == 0 {
		return ErrGone
	}
	return nil
}

// create inserts a new session and, with a per-user limit in ctx
// (createOpts), revokes the user's other live sessions beyond limit-1,
// oldest login first, in the same transaction, so that parallel logins
// cannot each see room and all stay (issue 12.6). Transactions of one user
// are serialised: on SQLite every write transaction takes the database's
// write lock at BEGIN (store's _txlock=immediate); on PostgreSQL a
// transaction-scoped advisory lock on the user ID. The revoked sessions
// are returned through createOpts.revoked.
func (s *SQLStore) create(ctx context.Context, token string, b []byte, expiry time.Time, rec Record, hasRec bool, cols []any) error {
	opts := createOptsFrom(ctx)
	limit := 0
	if opts != nil && hasRec && rec.Handle != "" {
		limit = opts.limit
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("create", err)
	}
	defer tx.Rollback()
	if limit > 0 && s.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, sessionLimitLockSpace, int32(rec.UserID)); err != nil {
			return unavailable("create", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO sessions
		(token_hash, data, expiry, handle, user_id, created, seen, absolute, ip, user_agent, remember)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		append([]any{HashToken(token), b, expiry.UnixMilli()}, cols...)...); err != nil {
		return unavailable("create", err)
	}
	var revoked []Record
	if limit > 0 {
		all := "LIMIT -1" // SQLite's "no limit", which OFFSET needs before it
		if s.dialect == "postgres" {
			all = "LIMIT ALL"
		}
		rows, err := tx.QueryContext(ctx, s.q(`DELETE FROM sessions WHERE token_hash IN (
			SELECT token_hash FROM sessions WHERE user_id = ? AND expiry > ? AND handle IS NOT NULL AND token_hash <> ?
			ORDER BY created DESC, token_hash DESC `+all+` OFFSET ?) RETURNING `+recordSelect),
			rec.UserID, time.Now().UnixMilli(), HashToken(token), limit-1)
		if err != nil {
			return unavailable("create", err)
		}
		if revoked, err = scanRecords(rows); err != nil {
			return unavailable("create", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("create", err)
	}
	if opts != nil {
		opts.revoked = revoked
	}
	return nil
}

// sessionLimitLockSpace is the first key of the PostgreSQL advisory lock
// that serialises one user's session creations ("LATC").
const sessionLimitLockSpace = 0x4C415443

// DeleteCtx removes a session; a missing row is not an error.
func (s *SQLStore) DeleteCtx(ctx context.Context, token string) error {
	if KeepOnRenew(ctx) {
		return nil
	}
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE token_hash = ?`), HashToken(token)); err != nil {
		return unavailable("delete", err)
	}
	return nil
}

// Rotate implements Store with one UPDATE of the primary key, which also
// records the old token's hash and the time (rotated_from, rotated_at); when
// no row has the old token, one indexed read tells ErrRotated from ErrGone.
func (s *SQLStore) Rotate(ctx context.Context, oldToken, newToken string) error {
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	now := time.Now().UnixMilli()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE sessions SET token_hash = ?, rotated_from = ?, rotated_at = ?
		WHERE token_hash = ? AND expiry > ?`),
		HashToken(newToken), HashToken(oldToken), now, HashToken(oldToken), now)
	if err != nil {
		return unavailable("rotate", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("rotate", err)
	} else if n > 0 {
		return nil
	}
	rotated, err := s.rotatedAway(ctx, oldToken, now)
	if err != nil {
		return unavailable("rotate", err)
	}
	if !rotated {
		return ErrGone
	}
	return ErrRotated
}

// rotatedAway reports whether a live session (expiry after now, unix ms)
// was rotated from token within rotatedMarkerTTL before now: the SQL
// store's rotation marker (rotated_from, rotated_at), in one indexed read.
// Errors are the database's, unwrapped.
func (s *SQLStore) rotatedAway(ctx context.Context, token string, now int64) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM sessions WHERE rotated_from = ? AND rotated_at > ? AND expiry > ?`),
		HashToken(token), now-rotatedMarkerTTL.Milliseconds(), now).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Find implements scs.Store without a context (unused by Latch).
func (s *SQLStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit implements scs.Store without a context (update-only).
func (s *SQLStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store without a context.
func (s *SQLStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
