package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/store/storetest"
)

// The tests in this file check query plans, not timings: on a database
// seeded at a size where the planners have a real choice (tens of
// thousands of rows, ANALYZEd), every listing must be read from an index
// in its own sort order — no sort step, no full scan — so that its cost
// is O(page), whatever the size of the log. BenchmarkAuditEvents measures
// the same queries at 1,000,000 events.

// seedTypes are the event types the seeded log cycles through.
var seedTypes = []audit.Type{audit.LoginSucceeded, audit.LoginFailed, audit.Logout, audit.SessionRevoked,
	audit.Reauthenticated, audit.RoleChanged, audit.UserCreated}

// Seeded users: heavyUser is in one event of ten, the others share the rest.
const (
	seedUsers = 500
	heavyUser = 7
	lightUser = 123
)

// seedAuditEvents inserts n events over users users in one statement (a
// recursive CTE on SQLite, generate_series on PostgreSQL), one second
// apart from 2023-11-14, and ANALYZEs. heavyUser is in one event of
// heavyEvery. One event in seven has no actor, as a failed login has none.
func seedAuditEvents(t testing.TB, db *DB, n, users, heavyEvery int) {
	t.Helper()
	typeCase := "CASE i % " + fmt.Sprint(len(seedTypes))
	for k, typ := range seedTypes {
		typeCase += fmt.Sprintf(" WHEN %d THEN '%s'", k, typ)
	}
	typeCase += " END"
	user := fmt.Sprintf("CASE WHEN i %% %d = 0 THEN %d ELSE i %% %d + 1 END", heavyEvery, heavyUser, users)
	cols := typeCase + ", CASE WHEN i % 7 = 1 THEN NULL ELSE " + user + " END, " + user +
		", '192.0.2.' || (i % 250), 'Mozilla/5.0', 'seeded'"
	var query string
	if db.Dialect() == DialectPostgres {
		query = "INSERT INTO audit_events (time, type, actor_id, subject_id, ip, user_agent, detail) " +
			"SELECT to_timestamp(1700000000 + i), " + cols + " FROM generate_series(1, $1) AS i"
	} else {
		query = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
			"INSERT INTO audit_events (time, type, actor_id, subject_id, ip, user_agent, detail) " +
			"SELECT 1700000000 + i, " + cols + " FROM n"
	}
	if _, err := db.db.ExecContext(t.Context(), query, n); err != nil {
		t.Fatalf("seed %d audit events: %v", n, err)
	}
	if _, err := db.db.ExecContext(t.Context(), "ANALYZE"); err != nil {
		t.Fatalf("analyze: %v", err)
	}
}

// plan describes how db runs query (storetest.Plan).
func plan(t *testing.T, db *DB, query string, args ...any) []string {
	t.Helper()
	return storetest.Plan(t, db.db, db.Dialect() == DialectPostgres, query, args...)
}

// checkOrderedIndexPlan fails t unless lines use every index in want and
// show no sort step and no full scan of a table.
func checkOrderedIndexPlan(t *testing.T, lines []string, want ...string) {
	t.Helper()
	all := strings.Join(lines, "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.Contains(l, "TEMP B-TREE"), // SQLite: sorting (ORDER BY) or de-duplicating
			strings.Contains(l, "Sort"), // PostgreSQL: Sort, Incremental Sort
			strings.HasPrefix(l, "Seq Scan"),
			strings.HasPrefix(l, "Bitmap"),
			strings.HasPrefix(l, "SCAN ") && !strings.Contains(l, "INDEX") && !strings.Contains(l, "CO-ROUTINE") &&
				!strings.HasPrefix(l, "SCAN (subquery") && !strings.HasPrefix(l, "SCAN matching") && !strings.HasPrefix(l, "SCAN n"):
			t.Errorf("plan has a sort or a full scan (%q):\n%s", l, all)
		}
	}
	for _, idx := range want {
		if !strings.Contains(all, idx) {
			t.Errorf("plan does not use %s:\n%s", idx, all)
		}
	}
}

// TestAuditEventsPlans: every listing of the audit log (the profile's
// activity and last sign-ins, the admin audit page with each filter) is an
// index range read in the listing's order, on both databases.
func TestAuditEventsPlans(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		seedAuditEvents(t, db, 30000, seedUsers, 10)
		day := time.Unix(1700000000, 0).UTC()
		tests := []struct {
			name string
			f    audit.Filter
			want []string
		}{
			{"profile activity", audit.Filter{UserID: heavyUser, Limit: 10, NoTotal: true},
				[]string{"audit_events_actor_time_idx", "audit_events_subject_others_time_idx"}},
			{"profile activity, light user", audit.Filter{UserID: lightUser, Limit: 10, NoTotal: true},
				[]string{"audit_events_actor_time_idx", "audit_events_subject_others_time_idx"}},
			{"last sign-in", audit.Filter{UserID: heavyUser, Type: audit.LoginSucceeded, Limit: 2, NoTotal: true},
				[]string{"audit_events_actor_type_time_idx", "audit_events_subject_others_type_time_idx"}},
			{"last failed sign-in", audit.Filter{UserID: lightUser, Type: audit.LoginFailed, Limit: 1, NoTotal: true},
				[]string{"audit_events_actor_type_time_idx", "audit_events_subject_others_type_time_idx"}},
			{"admin audit page", audit.Filter{Limit: 50}, []string{"audit_events_time_idx"}},
			{"admin audit page 20", audit.Filter{Limit: 50, Offset: 950}, []string{"audit_events_time_idx"}},
			{"admin audit by type", audit.Filter{Type: audit.Logout, Limit: 50}, []string{"audit_events_type_time_idx"}},
			{"admin audit by user", audit.Filter{UserID: heavyUser, Limit: 50},
				[]string{"audit_events_actor_time_idx", "audit_events_subject_others_time_idx"}},
			// The user's or the time index; both are in order.
			{"admin audit by user and dates", audit.Filter{UserID: heavyUser, Since: day.Add(time.Hour), Until: day.Add(5 * time.Hour), Limit: 50},
				nil},
			{"admin audit by user and type", audit.Filter{UserID: heavyUser, Type: audit.Logout, Limit: 50},
				[]string{"audit_events_actor_type_time_idx", "audit_events_subject_others_type_time_idx"}},
			{"admin audit by dates", audit.Filter{Since: day.Add(time.Hour), Until: day.Add(5 * time.Hour), Limit: 50},
				[]string{"audit_events_time_idx"}},
			// Either the type or the time index is in order here; which one
			// is cheaper depends on how common the type is.
			{"admin audit by type and dates", audit.Filter{Type: audit.Logout, Since: day.Add(time.Hour), Until: day.Add(5 * time.Hour), Limit: 50},
				nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				query, args := db.auditPageQuery(tt.f)
				checkOrderedIndexPlan(t, plan(t, db, query, args...), tt.want...)
			})
		}
	})
}

// TestAuditEventsUserUnion: the two halves of "actor or subject" give each
// event once, newest first, across pages, on a seeded log (checked against
// the plain OR), and the bounded count stops at Offset+CountLimit+1.
func TestAuditEventsUserUnion(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		seedAuditEvents(t, db, 3000, seedUsers, 10)
		var want []int64
		rows, err := db.db.QueryContext(t.Context(), db.rebind(
			"SELECT id FROM audit_events WHERE actor_id = ? OR subject_id = ? ORDER BY time DESC, id DESC"), heavyUser, heavyUser)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
		}
		rows.Close()
		var got []int64
		for offset := 0; offset < len(want)+50; offset += 50 {
			events, total := mustAuditEvents(t, db, audit.Filter{UserID: heavyUser, Offset: offset, Limit: 50})
			if total != len(want) {
				t.Fatalf("offset %d: total %d, want %d", offset, total, len(want))
			}
			got = append(got, eventIDs(events)...)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("paged union gave %d events, the OR query %d (first differences matter):\n got %v\nwant %v",
				len(got), len(want), got[:min(10, len(got))], want[:min(10, len(want))])
		}
		_, total := mustAuditEvents(t, db, audit.Filter{Limit: 50, CountLimit: 100})
		if total != 101 {
			t.Errorf("count bounded by CountLimit 100: total %d, want 101 (more than 100)", total)
		}
		_, total = mustAuditEvents(t, db, audit.Filter{UserID: heavyUser, Offset: 50, Limit: 50, CountLimit: 100})
		if total != 151 {
			t.Errorf("count bounded by Offset 50 + CountLimit 100: total %d, want 151", total)
		}
	})
}
