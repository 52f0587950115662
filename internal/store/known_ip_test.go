package store

import (
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
)

func TestKnownLoginIP(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for _, e := range []audit.Event{
			{Type: audit.LoginSucceeded, ActorID: 7, SubjectID: 7, IP: "203.0.113.5", Time: at},
			{Type: audit.LoginSucceeded, ActorID: 7, SubjectID: 7, IP: "192.0.2.1", Time: at.Add(-100 * 24 * time.Hour)},
			{Type: audit.LoginFailed, SubjectID: 7, IP: "198.51.100.7", Time: at, Detail: "wrong password"},
			{Type: audit.Reauthenticated, ActorID: 7, SubjectID: 7, IP: "198.51.100.9", Time: at},
			{Type: audit.LoginSucceeded, ActorID: 8, SubjectID: 8, IP: "198.51.100.7", Time: at},
			{Type: audit.LoginSucceeded, ActorID: 7, SubjectID: 7, IP: "2001:db8::1", Time: at},
		} {
			mustInsertEvent(t, db, e)
		}
		ninety := at.Add(-90 * 24 * time.Hour)
		tests := []struct {
			name   string
			userID int64
			ip     string
			since  time.Time
			want   bool
		}{
			{"signed in from it within the window", 7, "203.0.113.5", ninety, true},
			{"IPv6 as stored", 7, "2001:db8::1", ninety, true},
			{"only failed from it", 7, "198.51.100.7", ninety, false},
			{"another account signed in from it", 8, "203.0.113.5", ninety, false},
			{"the other account's own IP", 8, "198.51.100.7", ninety, true},
			{"only re-authenticated from it", 7, "198.51.100.9", ninety, false},
			{"signed in from it before the window", 7, "192.0.2.1", ninety, false},
			{"since exactly the login", 7, "203.0.113.5", at, true},
			{"since one second after", 7, "203.0.113.5", at.Add(time.Second), false},
			{"since a fraction after rounds up", 7, "203.0.113.5", at.Add(time.Millisecond), false},
			{"no account", 0, "203.0.113.5", ninety, false},
			{"unknown IP", 7, "203.0.113.6", ninety, false},
		}
		for _, tt := range tests {
			got, err := db.KnownLoginIP(t.Context(), tt.userID, tt.ip, tt.since)
			if err != nil {
				t.Fatalf("%s: KnownLoginIP: %v", tt.name, err)
			}
			if got != tt.want {
				t.Errorf("%s: KnownLoginIP(%d, %q, %v) = %v, want %v", tt.name, tt.userID, tt.ip, tt.since, got, tt.want)
			}
		}
	})
}

// TestKnownLoginIPUsesIndex checks that the query is a seek in the partial
// index of migration 00008, not a scan of an account's events: an account
// under attack has one event per failed login.
func TestKnownLoginIPUsesIndex(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		conn, err := db.SQL().Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		query := "SELECT 1 FROM audit_events WHERE type = 'login.succeeded' AND subject_id = 7 AND ip = '203.0.113.5' AND time >= 0 LIMIT 1"
		explain := "EXPLAIN QUERY PLAN " + query
		if db.Dialect() == DialectPostgres {
			// The table is empty: make the planner show that the index
			// applies rather than pick a sequential scan of nothing.
			if _, err := conn.ExecContext(t.Context(), "SET enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
			explain = "EXPLAIN " + strings.Replace(query, "time >= 0", "time >= now()", 1)
		}
		rows, err := conn.QueryContext(t.Context(), explain)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var plan strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch v := v.(type) {
				case string:
					plan.WriteString(v + " ")
				case []byte:
					plan.WriteString(string(v) + " ")
				}
			}
			plan.WriteString("\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan.String(), "audit_events_login_ip_idx") {
			t.Errorf("plan does not use audit_events_login_ip_idx:\n%s", plan.String())
		}
	})
}
