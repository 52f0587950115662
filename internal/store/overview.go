package store

import (
	"context"
	"fmt"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/deadline"
)

// MaxActivityHours bounds the hours LoginActivity returns (one week).
const MaxActivityHours = 24 * 7

// LoginActivity returns the sign-in events of the hours hour-long
// intervals that end at end: hours buckets, oldest first, bucket i
// covering [E-(hours-i)h, E-(hours-i-1)h) where E is the second after
// end's (end truncated to the second, plus one): event times are stored
// truncated to whole seconds, so every event stamped at or before end
// counts, and the last bucket ends with the second of end. Each bucket
// counts login.succeeded events, login.failed events after a checked password,
// an unknown email or a disabled account (Failed), and login.failed
// events recording a sampled throttle refusal (Throttled: the detail
// begins audit.ThrottledDetailPrefix; at most one per account and client
// network a minute, so the number of refused attempts is at least this).
// Failed is the type's count less Throttled. hours must be 1 to
// MaxActivityHours. Errors: one for hours out of range; a wrapped
// database error.
//
// Cost: one statement of 3 × hours counts, each a range of one index,
// nothing sorted and no table scanned: the two types' counts read
// audit_events_type_time_idx (00004) alone, without table rows; the
// refusals' count reads the partial index
// audit_events_login_throttled_time_idx (00014), which holds refusals
// only (PostgreSQL from the index alone; SQLite also reads each refusal's
// row, to test the detail again). That is O(hours × log n + sign-in
// events in the window) index entries, however large the rest of the
// log: the work grows with the window's events, not with the log (an
// hourly summary kept on insert would make it O(hours), at the price of
// an upsert on one hot row per sign-in event). TestLoginActivityPlans
// checks the plans at size; internal/server's BenchmarkAdminOverview
// times it at 1,000,000 events.
func (db *DB) LoginActivity(ctx context.Context, end time.Time, hours int) ([]audit.LoginHour, error) {
	if hours < 1 || hours > MaxActivityHours {
		return nil, fmt.Errorf("store: login activity: %d hours, want 1 to %d", hours, MaxActivityHours)
	}
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	start := end.UTC().Truncate(time.Second).Add(time.Second).Add(-time.Duration(hours) * time.Hour)
	query, args := db.loginActivityQuery(start, hours)
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: login activity: %w", err)
	}
	defer rows.Close()
	out := make([]audit.LoginHour, hours)
	for i := range out {
		out[i].Start = start.Add(time.Duration(i) * time.Hour)
	}
	for rows.Next() {
		var b, ok, failed, throttled int
		if err := rows.Scan(&b, &ok, &failed, &throttled); err != nil {
			return nil, fmt.Errorf("store: login activity: %w", err)
		}
		if b < 0 || b >= hours {
			return nil, fmt.Errorf("store: login activity: bucket %d of %d", b, hours)
		}
		out[b].Succeeded, out[b].Failed, out[b].Throttled = ok, failed-throttled, throttled
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: login activity: %w", err)
	}
	return out, nil
}

// loginActivityQuery returns the statement of LoginActivity from start
// (a whole second), in the dialect's placeholders, and its arguments: one
// row per hour (b = 0 … hours-1) with three correlated counts. The types
// and the refusal predicate are literals, spelled as in migration 00014's
// partial index, so that both planners may use it.
func (db *DB) loginActivityQuery(start time.Time, hours int) (string, []any) {
	throttled := fmt.Sprintf("type = '%s' AND detail LIKE '%s%%'", audit.LoginFailed, audit.ThrottledDetailPrefix)
	count := func(from, where string) string {
		return "(SELECT count(*) FROM " + from + " WHERE " + where + " AND time >= s AND time < e)"
	}
	refusals := "audit_events"
	if db.dialect == DialectSQLite {
		// SQLite's planner does not pick a partial index whose predicate
		// has a LIKE (it prefers the type index and reads every failed
		// event's row to test the detail), so it is named.
		refusals += " INDEXED BY audit_events_login_throttled_time_idx"
	}
	cols := "b, " + count("audit_events", fmt.Sprintf("type = '%s'", audit.LoginSucceeded)) + ", " +
		count("audit_events", fmt.Sprintf("type = '%s'", audit.LoginFailed)) + ", " + count(refusals, throttled)
	if db.dialect == DialectPostgres {
		return "SELECT " + cols + " FROM (SELECT b, $1::timestamptz + b * interval '1 hour' AS s, " +
				"$1::timestamptz + (b + 1) * interval '1 hour' AS e FROM generate_series(0, $2 - 1) AS b) AS buckets",
			[]any{start, hours}
	}
	return "WITH RECURSIVE buckets(b, s, e) AS (SELECT 0, ?1, ?1 + 3600 UNION ALL " +
			"SELECT b + 1, e, e + 3600 FROM buckets WHERE b + 1 < ?2) SELECT " + cols + " FROM buckets",
		[]any{start.Unix(), hours}
}

// CountDisabledUsers returns the number of disabled accounts. Cost: the
// entries of the partial index users_disabled_idx (migration 00014), which
// holds only disabled accounts. Errors: a wrapped database error.
func (db *DB) CountDisabledUsers(ctx context.Context) (int, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	var n int
	if err := db.db.QueryRowContext(ctx, db.disabledUsersQuery()).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count disabled users: %w", err)
	}
	return n, nil
}

// disabledUsersQuery counts disabled accounts with the predicate of
// users_disabled_idx, as the dialect spells it.
func (db *DB) disabledUsersQuery() string {
	if db.dialect == DialectPostgres {
		return "SELECT count(*) FROM users WHERE disabled"
	}
	return "SELECT count(*) FROM users WHERE disabled = 1"
}
