package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latch/latch/internal/audit"
)

// Page sizes of the listing methods (AuditEvents, Users).
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// auditColumns is the column list AuditEvents selects, in scanAuditEvent order.
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
	ctx, cancel := db.bound(ctx)
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
// events matching f in all pages.
//
// f.UserID matches events where that user is the actor or the subject.
// f.Since and f.Until bound the event time (at or after Since, before
// Until); since times are stored in whole seconds, a bound with a fraction
// of a second acts as the next whole second. f.Limit of 0 (or less) means
// 50 rows and is capped at 500; a negative f.Offset counts as 0. An offset
// past the end gives an empty page and the true total.
func (db *DB) AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, int, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var (
		where []string
		args  []any
	)
	if f.UserID != 0 {
		where = append(where, "(actor_id = ? OR subject_id = ?)")
		args = append(args, f.UserID, f.UserID)
	}
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
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	offset, limit := pageBounds(f.Offset, f.Limit)

	rows, err := db.db.QueryContext(ctx, db.rebind(
		"SELECT "+auditColumns+" FROM audit_events"+cond+" ORDER BY time DESC, id DESC LIMIT ? OFFSET ?"),
		append(args, limit, offset)...)
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
	var total int
	if err := db.db.QueryRowContext(ctx, db.rebind("SELECT count(*) FROM audit_events"+cond), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: audit events: count: %w", err)
	}
	return events, total, nil
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
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if maxBytes < 0 || len(s) <= maxBytes {
		return s
	}
	n := maxBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
