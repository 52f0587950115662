package session

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/latch/latch/internal/deadline"
)

// recordColumns returns the registry columns of a sessions row, in the
// order handle, user_id, created, seen, absolute, ip, user_agent, remember;
// NULLs when the write carries no record.
func recordColumns(rec Record, ok bool) []any {
	if !ok || rec.Handle == "" {
		return []any{nil, nil, nil, nil, nil, nil, nil, nil}
	}
	remember := 0
	if rec.Remember {
		remember = 1
	}
	return []any{rec.Handle, rec.UserID, rec.Created.UnixMilli(), rec.LastSeen.UnixMilli(),
		rec.AbsoluteDeadline.UnixMilli(), rec.IP, storedAgent(rec), remember}
}

const recordSelect = `handle, user_id, created, seen, absolute, expiry, ip, user_agent, remember`

func scanRecords(rows *sql.Rows) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var created, seen, absolute, expiry, remember int64
		var agent string
		if err := rows.Scan(&r.Handle, &r.UserID, &created, &seen, &absolute, &expiry, &r.IP, &agent, &remember); err != nil {
			return nil, err
		}
		r = withStoredAgent(r, agent)
		r.Created, r.LastSeen = time.UnixMilli(created), time.UnixMilli(seen)
		r.AbsoluteDeadline, r.Expiry = time.UnixMilli(absolute), time.UnixMilli(expiry)
		r.Remember = remember == 1
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *SQLStore) query(ctx context.Context, op, query string, args ...any) ([]Record, error) {
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, unavailable(op, err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, unavailable(op, err)
	}
	return recs, nil
}

// UserSessions implements Registry with the (user_id, seen) index.
func (s *SQLStore) UserSessions(ctx context.Context, userID int64) ([]Record, error) {
	return s.query(ctx, "user sessions", `SELECT `+recordSelect+` FROM sessions
		WHERE user_id = ? AND expiry > ? AND handle IS NOT NULL ORDER BY seen DESC`, userID, time.Now().UnixMilli())
}

// Sessions implements Registry with the (seen, handle), (user_id, seen)
// and (ip, seen) indexes: a page reads O(offset + limit) index entries
// (O(limit) from a cursor, q.After or q.Before) and only its own rows,
// and the total is counted only when a page without a cursor is full (or
// from a cursor, always), bounded by q.CountLimit (a count of 100,000
// sessions on every admin view cost more than the page).
// TestSQLSessionsPlans checks the plans at size.
func (s *SQLStore) Sessions(ctx context.Context, q Query) (Page, error) {
	q = normalizeQuery(q)
	now := time.Now()
	page, args := s.sessionsPageQuery(q, now)
	recs, err := s.query(ctx, "sessions", page, args...)
	if err != nil {
		return Page{}, err
	}
	if q.After == nil && q.Before == nil && len(recs) < q.Limit && (len(recs) > 0 || q.Offset == 0) {
		return Page{Records: recs, Total: q.Offset + len(recs)}, nil // a short page is the last: no count needed
	}
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	var total int
	count, args := s.sessionsCountQuery(q, now)
	if err := s.db.QueryRowContext(ctx, s.q(count), args...).Scan(&total); err != nil {
		return Page{}, unavailable("sessions count", err)
	}
	return Page{Records: recs, Total: total}, nil
}

// sessionsWhere is the condition of the sessions matching q at now.
// "+expiry" keeps the planner off the expiry index so that the seen index
// serves ORDER BY seen DESC LIMIT (valid SQL on both databases).
func sessionsWhere(q Query, now time.Time) (string, []any) {
	where := `+expiry > ? AND handle IS NOT NULL`
	args := []any{now.UnixMilli()}
	if q.UserID != 0 {
		where += ` AND user_id = ?`
		args = append(args, q.UserID)
	}
	if q.IP != "" {
		where += ` AND ip = ?`
		args = append(args, q.IP)
	}
	return where, args
}

// sessionsPageQuery is the statement (with ? placeholders) that reads
// q's page. The inner query pages through the (seen, handle, expiry)
// index alone (its entries carry token_hash, the primary key), from
// q.After or q.Before when set (a row-value range of the index: the cost
// of a page does not grow with its depth); only the rows of the page are
// then read from the table, and sorted again (at most q.Limit rows). Equal
// times are ordered by handle, unique, so that a cursor names one place.
func (s *SQLStore) sessionsPageQuery(q Query, now time.Time) (string, []any) {
	where, args := sessionsWhere(q, now)
	order := `seen DESC, handle DESC`
	if (q.UserID != 0 || q.IP != "") && q.After == nil && q.Before == nil {
		order = `seen DESC` // what the (user_id, seen) and (ip, seen) indexes give
	}
	switch {
	case q.After != nil:
		where += ` AND (seen, handle) < (?, ?)`
		args = append(args, q.After.LastSeen.UnixMilli(), q.After.Handle)
	case q.Before != nil:
		where += ` AND (seen, handle) > (?, ?)`
		args = append(args, q.Before.LastSeen.UnixMilli(), q.Before.Handle)
		order = `seen ASC, handle ASC` // the nearest first; the outer query turns them newest first
	}
	return `SELECT ` + recordSelect + ` FROM sessions WHERE token_hash IN (
		SELECT token_hash FROM sessions WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ? OFFSET ?)
		ORDER BY seen DESC, handle DESC`, append(args, q.Limit, q.Offset)
}

// sessionsCountQuery is the statement (with ? placeholders) that counts
// the sessions matching q, at most q.Offset+q.CountLimit+1 of them when
// q.CountLimit > 0.
func (s *SQLStore) sessionsCountQuery(q Query, now time.Time) (string, []any) {
	where, args := sessionsWhere(q, now)
	count := `SELECT 1 FROM sessions WHERE ` + where
	if q.UserID == 0 && q.IP == "" {
		count, args = `SELECT 1 FROM sessions WHERE expiry > ?`, args[:1] // covered by the expiry index
	}
	if q.CountLimit > 0 {
		count += ` LIMIT ?`
		args = append(args, q.Offset+q.CountLimit+1)
	}
	return `SELECT count(*) FROM (` + count + `) AS matching`, args
}

// countByKindQuery counts the unexpired sessions and, of them, the app
// sessions (stored User-Agent starting with appAgentMark, 5 bytes): the
// first from the expiry index, the second from the expression index
// sessions_kind_expiry_idx on (substr(user_agent, 1, 5), expiry)
// (migration 00018), whose expression the query repeats exactly so that
// both databases use it. Arguments: now ms, appAgentMark, now ms.
// TestSQLCountByKindPlan checks the plans at size.
const countByKindQuery = `SELECT
	(SELECT count(*) FROM sessions WHERE expiry > ?),
	(SELECT count(*) FROM sessions WHERE substr(user_agent, 1, 5) = ? AND expiry > ?)`

// CountByKind implements Registry with one statement (countByKindQuery).
// A row written without a registry record (none in Latch) counts as a
// browser session, as it counts in Sessions' total.
func (s *SQLStore) CountByKind(ctx context.Context) (browser, app int, err error) {
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	now := time.Now().UnixMilli()
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(countByKindQuery), now, appAgentMark, now).Scan(&total, &app); err != nil {
		return 0, 0, unavailable("count by kind", err)
	}
	return total - app, app, nil
}

// Revoke implements Registry with one DELETE … RETURNING.
func (s *SQLStore) Revoke(ctx context.Context, handle string) (Record, bool, error) {
	recs, err := s.query(ctx, "revoke", `DELETE FROM sessions WHERE handle = ? RETURNING `+recordSelect, handle)
	if err != nil {
		return Record{}, false, err
	}
	recs = live(recs)
	if len(recs) == 0 {
		return Record{}, false, nil
	}
	return recs[0], true, nil
}

// RevokeUser implements Registry with one DELETE … RETURNING.
func (s *SQLStore) RevokeUser(ctx context.Context, userID int64, except string) ([]Record, error) {
	recs, err := s.query(ctx, "revoke user", `DELETE FROM sessions WHERE user_id = ? AND handle <> ? RETURNING `+recordSelect,
		userID, except)
	if err != nil {
		return nil, err
	}
	recs = live(recs)
	sort.Slice(recs, func(i, j int) bool { return recs[i].LastSeen.After(recs[j].LastSeen) })
	return recs, nil
}

// Sweep implements Registry: it deletes expired rows.
func (s *SQLStore) Sweep(ctx context.Context) (int, error) {
	ctx, cancel := deadline.Bound(ctx, s.timeout)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expiry <= ?`), time.Now().UnixMilli())
	if err != nil {
		return 0, unavailable("sweep", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("session: sql sweep: %w", err)
	}
	return int(n), nil
}

// live keeps the records that had not expired yet.
func live(recs []Record) []Record {
	now := time.Now()
	out := recs[:0]
	for _, r := range recs {
		if r.Expiry.After(now) {
			out = append(out, r)
		}
	}
	return out
}
