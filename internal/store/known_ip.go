package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch/latch/internal/audit"
)

// KnownLoginIP reports whether user userID signed in successfully (an
// audit.LoginSucceeded event with that subject) from ip at or after since.
// ip is compared as stored (the client IP the server recorded); since
// counts in whole seconds, like AuditEvents' Since. userID 0 (no account)
// is never known, and costs the same query. It is one seek in
// audit_events_login_ip_idx (migration 00008). Errors: a wrapped database
// error.
func (db *DB) KnownLoginIP(ctx context.Context, userID int64, ip string, since time.Time) (bool, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var one int
	// The type is a literal, not a parameter, so that both databases can
	// use the partial index (its WHERE must be implied by the query's).
	err := db.db.QueryRowContext(ctx, db.rebind(`
		SELECT 1 FROM audit_events
		WHERE type = '`+string(audit.LoginSucceeded)+`' AND subject_id = ? AND ip = ? AND time >= ?
		LIMIT 1`),
		userID, ip, db.timeArg(ceilSecond(since)),
	).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: known login ip: %w", err)
	}
	return true, nil
}
