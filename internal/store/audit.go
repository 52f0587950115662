package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/text"
)

// Page sizes of the listing methods (AuditEvents, Users).
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// auditColumns is the column list AuditEvents selects, in the order its
// rows.Scan reads them.
const auditColumns = "id, time, type, via, actor_id, subject_id, email, ip, user_agent, session_handle, detail"

// InsertAuditEvent stores e and sets e.ID to the new row's ID.
//
// e.Time, if zero, becomes the current time; either way it is stored and
// returned in UTC with one-second precision. e.Type must be one of
// audit.Types. e.ActorID and e.SubjectID of 0 ("nobody known") are stored
// as NULL; negative IDs are an error. Every text field is made valid UTF-8
// (runs of invalid bytes and each NUL become U+FFFD, since PostgreSQL
// text accepts neither); e.Email is then cut to audit.MaxEmailBytes and e.UserAgent to
// audit.MaxUserAgentBytes, never inside a character. e holds the stored
// values afterwards. Errors: a wrapped database error, e.g. when the
// audit_events table is missing because `latch migrate` has not been run.
func (db *DB) InsertAuditEvent(ctx context.Context, e *audit.Event) error {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	if !slices.Contains(audit.Types, e.Type) {
		return fmt.Errorf("store: insert audit event: unknown type %q", e.Type)
	}
	if e.ActorID < 0 || e.SubjectID < 0 {
		return fmt.Errorf("store: insert audit event: negative user ID (actor %d, subject %d)", e.ActorID, e.SubjectID)
	}
	t := e.Time
	if t.IsZero() {
		t = db.now()
	}
	t = t.UTC().Truncate(time.Second)
	via := audit.Via(cleanText(string(e.Via), -1))
	email := cleanText(e.Email, audit.MaxEmailBytes)
	ip := cleanText(e.IP, -1)
	ua := cleanText(e.UserAgent, audit.MaxUserAgentBytes)
	handle := cleanText(e.SessionHandle, -1)
	detail := cleanText(e.Detail, -1)

	var id int64
	err := db.db.QueryRowContext(ctx, db.rebind(`
		INSERT INTO audit_events (time, type, via, actor_id, subject_id, email, ip, user_agent, session_handle, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`),
		db.timeArg(t), string(e.Type), string(via), nullID(e.ActorID), nullID(e.SubjectID),
		email, ip, ua, handle, detail,
	).Scan(&id)
	if err != nil {
		return fmt.Errorf("store: insert audit event: %w", err)
	}
	e.ID, e.Time, e.Via, e.Email, e.IP, e.UserAgent, e.SessionHandle, e.Detail = id, t, via, email, ip, ua, handle, detail
	return nil
}

// AuditEvents returns one page of the events matching f, newest first
// (by time, then by ID for events in the same second), and the number of
// events matching f in all pages (bounded by f.CountLimit; -1 with
// f.NoTotal).
//
// f.UserID matches events where that user is the actor or the subject.
// f.Since and f.Until bound the event time (at or after Since, before
// Until); since times are stored in whole seconds, a bound with a fraction
// of a second acts as the next whole second. f.Limit of 0 (or less) means
// 50 rows and is capped at 500; a negative f.Offset counts as 0. An offset
// past the end gives an empty page and the true total.
//
// Cost: every combination of filters is read from an index in the order
// of the listing (migrations 00004 and 00009), so a page costs
// O(offset + limit) index entries, whatever the size of the log or of the
// user's history. "Actor or subject" is two index range scans merged
// (UNION ALL … ORDER BY … LIMIT: SQLite merges two ordered co-routines,
// PostgreSQL a Merge Append of two backward index scans); an OR in one
// WHERE would make both databases read all of the user's events, or the
// whole time index, and sort. Tests check the plans (EXPLAIN) at size.
func (db *DB) AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, int, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	offset, limit := pageBounds(f.Offset, f.Limit)
	query, qargs := db.auditPageQuery(f)
	rows, err := db.db.QueryContext(ctx, query, qargs...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit events: %w", err)
	}
	defer rows.Close()
	events := []audit.Event{}
	for rows.Next() {
		var (
			e                  audit.Event
			typ, via           string
			actorID, subjectID sql.NullInt64
		)
		if err := rows.Scan(&e.ID, timeScanner{&e.Time}, &typ, &via, &actorID, &subjectID,
			&e.Email, &e.IP, &e.UserAgent, &e.SessionHandle, &e.Detail); err != nil {
			return nil, 0, fmt.Errorf("store: audit events: %w", err)
		}
		e.Type, e.Via, e.ActorID, e.SubjectID = audit.Type(typ), audit.Via(via), actorID.Int64, subjectID.Int64
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: audit events: %w", err)
	}
	switch {
	case f.NoTotal:
		return events, -1, nil
	case len(events) < limit && (len(events) > 0 || offset == 0):
		return events, offset + len(events), nil // a short page is the last: no count needed
	}
	upTo := 0
	if f.CountLimit > 0 {
		upTo = offset + f.CountLimit + 1
	}
	from, args := db.auditSelection(f, upTo) // each half limited too: PostgreSQL then reads no more of either
	total, err := db.countUpTo(ctx, fmt.Sprintf(from, "1"), args, upTo)
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit events: count: %w", err)
	}
	return events, total, nil
}

// auditPageQuery returns the statement (placeholders in the dialect's
// style) and arguments that read the page of f.
func (db *DB) auditPageQuery(f audit.Filter) (string, []any) {
	offset, limit := pageBounds(f.Offset, f.Limit)
	from, args := db.auditSelection(f, offset+limit)
	return db.rebind(fmt.Sprintf(from, auditColumns) + " ORDER BY time DESC, id DESC LIMIT ? OFFSET ?"),
		append(args, limit, offset)
}

// auditSelection returns the FROM and WHERE part of the query for f, with
// a %s where the column list goes, ready for ORDER BY time DESC, id DESC
// LIMIT, and its arguments. With f.UserID it is a UNION ALL of the events
// the user acted in and those they were the subject of (but did not act
// in), so that each half is one range of an (actor_id|subject_id[, type],
// time, id) index. armLimit > 0 says how many rows the page needs from
// each half (offset + limit); 0 means all (for counting).
func (db *DB) auditSelection(f audit.Filter, armLimit int) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.Type != "" {
		where = append(where, "type = ?")
		args = append(args, string(f.Type))
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, db.timeArg(ceilSecond(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, db.timeArg(ceilSecond(f.Until)))
	}
	if f.UserID == 0 {
		if len(where) == 0 {
			return "SELECT %[1]s FROM audit_events", args
		}
		return "SELECT %[1]s FROM audit_events WHERE " + strings.Join(where, " AND "), args
	}
	rest := ""
	if len(where) > 0 {
		rest = " AND " + strings.Join(where, " AND ")
	}
	actor := "SELECT %[1]s FROM audit_events WHERE actor_id = ?" + rest
	// The predicate is the one of migration 00012's partial indexes, word
	// for word, so that this half reads only events others did to the user
	// instead of walking past the user's own.
	subject := "SELECT %[1]s FROM audit_events WHERE subject_id = ? AND (actor_id IS NULL OR actor_id <> subject_id)" + rest
	actorArgs := append([]any{f.UserID}, args...)
	subjectArgs := append([]any{f.UserID}, args...)
	if db.dialect == DialectPostgres && armLimit > 0 {
		// PostgreSQL merges the two ordered halves (Merge Append, no Sort)
		// only when each half is itself ordered and limited; SQLite merges
		// a compound SELECT's ORDER BY by itself, lazily, without them.
		const arm = " ORDER BY time DESC, id DESC LIMIT ?"
		return "SELECT %[1]s FROM ((" + actor + arm + ") UNION ALL (" + subject + arm + ")) AS e",
			append(append(append(actorArgs, armLimit), subjectArgs...), armLimit)
	}
	if db.dialect == DialectPostgres {
		return "SELECT %[1]s FROM (" + actor + " UNION ALL " + subject + ") AS e", append(actorArgs, subjectArgs...)
	}
	return actor + " UNION ALL " + subject, append(actorArgs, subjectArgs...)
}

// countUpTo counts the rows of query (a SELECT with ? placeholders), at
// most upTo of them when upTo > 0, so that the count of a large table
// stops early.
func (db *DB) countUpTo(ctx context.Context, query string, args []any, upTo int) (int, error) {
	if upTo > 0 {
		query += " LIMIT ?"
		args = append(args, upTo)
	}
	var n int
	err := db.db.QueryRowContext(ctx, db.rebind("SELECT count(*) FROM ("+query+") AS matching"), args...).Scan(&n)
	return n, err
}

// pageBounds applies the listing defaults: offset at least 0; limit 0 or
// less means defaultPageSize, and at most maxPageSize.
func pageBounds(offset, limit int) (int, int) {
	if limit <= 0 {
		limit = defaultPageSize
	}
	return max(offset, 0), min(limit, maxPageSize)
}

// nullID stores a user ID of 0 ("nobody known") as NULL.
func nullID(id int64) sql.NullInt64 {
	return sql.NullInt64{Int64: id, Valid: id != 0}
}

// ceilSecond rounds t up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if u := t.Truncate(time.Second); !u.Equal(t) {
		return u.Add(time.Second)
	}
	return t
}

// cleanText makes s valid UTF-8 without NUL (each run of invalid bytes and
// each NUL becomes U+FFFD) and, when maxBytes >= 0, cuts it to at most
// maxBytes bytes without splitting a character.
func cleanText(s string, maxBytes int) string {
	return text.Truncate(strings.ReplaceAll(s, "\x00", "\uFFFD"), maxBytes)
}
