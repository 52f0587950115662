package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch/latch/internal/deadline"
)

// The networks each account signed in from (the known_networks table,
// migration 00011), for the throttle's exemption of the owner's known
// networks from the per-account quota (internal/server/throttle.go). A
// network is clientnet.Of of the client IP: an IPv4 address or an IPv6
// /64, so an owner whose IPv6 privacy address changed is still known. One
// row per account and network, upserted at each sign-in, so a lookup is
// one primary-key seek whatever the account's history.

// RecordNetworkLogin records that user userID signed in from network at
// at (kept in whole seconds): it inserts the (userID, network) row or
// moves its last_login_at forward (never back). Errors: a wrapped
// database error (a foreign-key error when no such user exists).
func (db *DB) RecordNetworkLogin(ctx context.Context, userID int64, network string, at time.Time) error {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	if network == "" {
		return errors.New("store: record network login: empty network")
	}
	at = at.UTC().Truncate(time.Second)
	_, err := db.db.ExecContext(ctx, db.rebind(`
		INSERT INTO known_networks (user_id, network, last_login_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id, network) DO UPDATE SET
			last_login_at = CASE WHEN known_networks.last_login_at < excluded.last_login_at
				THEN excluded.last_login_at ELSE known_networks.last_login_at END`),
		userID, cleanText(network, 64), db.timeArg(at))
	if err != nil {
		return fmt.Errorf("store: record network login: %w", err)
	}
	return nil
}

// KnownNetwork reports whether user userID signed in from network (as
// RecordNetworkLogin stored it) at or after since; since counts in whole
// seconds (rounded up). userID 0 (no account) is never known, and costs
// the same query. It is one seek in the primary key of known_networks.
// Errors: a wrapped database error.
func (db *DB) KnownNetwork(ctx context.Context, userID int64, network string, since time.Time) (bool, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	var one int
	err := db.db.QueryRowContext(ctx, db.rebind(`
		SELECT 1 FROM known_networks WHERE user_id = ? AND network = ? AND last_login_at >= ?`),
		userID, network, db.timeArg(ceilSecond(since)),
	).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: known network: %w", err)
	}
	return true, nil
}
