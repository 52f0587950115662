package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch/latch/internal/store"
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
// from migrations/. dialect is "sqlite" or "postgres" (placeholder style);
// timeout bounds each operation (0 = only the caller's context).
func NewSQLStore(db *sql.DB, dialect string, timeout time.Duration) *SQLStore {
	return &SQLStore{db: db, dialect: dialect, timeout: timeout}
}

// q rewrites ? placeholders to $n for PostgreSQL (store.Rebind).
func (s *SQLStore) q(query string) string { return store.Rebind(s.dialect, query) }

// unavailable wraps a database error of operation op: in ErrUnavailable
// (answered 503) when store.Unavailable says the database is down, slow or
// busy; otherwise as a plain error (a bug or a constraint violation: 500).
func unavailable(op string, err error) error {
	if !store.Unavailable(err) {
		return fmt.Errorf("session: sql %s: %w", op, err)
	}
	return fmt.Errorf("session: sql %s: %w: %w", op, ErrUnavailable, err)
}

// FindCtx returns the data of an unexpired session.
func (s *SQLStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	ctx, cancel := withTimeout(ctx, s.timeout)
	defer cancel()
	var b []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT data FROM sessions WHERE token_hash = ? AND expiry > ?`),
		HashToken(token), time.Now().UnixMilli()).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
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
	ctx, cancel := withTimeout(ctx, s.timeout)
	defer cancel()
	rec, hasRec := recordFrom(ctx)
	cols := recordColumns(rec, hasRec)
	if isCreate(ctx) {
		_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions
			(token_hash, data, expiry, handle, user_id, created, seen, absolute, ip, user_agent, remember)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			append([]any{HashToken(token), b, expiry.UnixMilli()}, cols...)...)
		if err != nil {
			return unavailable("create", err)
		}
		return nil
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

// DeleteCtx removes a session; a missing row is not an error.
func (s *SQLStore) DeleteCtx(ctx context.Context, token string) error {
	if KeepOnRenew(ctx) {
		return nil
	}
	ctx, cancel := withTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE token_hash = ?`), HashToken(token)); err != nil {
		return unavailable("delete", err)
	}
	return nil
}

// Rotate implements Store with one UPDATE of the primary key.
func (s *SQLStore) Rotate(ctx context.Context, oldToken, newToken string) error {
	ctx, cancel := withTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE sessions SET token_hash = ? WHERE token_hash = ? AND expiry > ?`),
		HashToken(newToken), HashToken(oldToken), time.Now().UnixMilli())
	if err != nil {
		return unavailable("rotate", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("rotate", err)
	} else if n == 0 {
		return ErrGone
	}
	return nil
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
