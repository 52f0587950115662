package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/user"
)

// TestLoginActivity: each sign-in event lands in the hour bucket of its
// time, throttle refusals are told from failed password checks, and
// events outside the window or of other types are not counted.
func TestLoginActivity(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		end := time.Date(2026, 3, 14, 9, 0, 0, 400_000_000, time.UTC) // the window ends with second 09:00:00
		add := func(at time.Time, typ audit.Type, detail string) {
			t.Helper()
			if err := db.InsertAuditEvent(t.Context(), &audit.Event{Time: at, Type: typ, Detail: detail}); err != nil {
				t.Fatal(err)
			}
		}
		e := end.Truncate(time.Second).Add(time.Second)                                       // 09:00:01, the end of the last bucket
		add(end, audit.LoginSucceeded, "")                                                    // bucket 47 (stamped 09:00:00)
		add(e.Add(-time.Hour), audit.LoginSucceeded, "")                                      // 47: its first second
		add(e.Add(-time.Hour-time.Second), audit.LoginSucceeded, "")                          // 46: its last second
		add(e.Add(-90*time.Minute), audit.LoginFailed, "wrong password")                      // 46
		add(e.Add(-10*time.Second), audit.LoginFailed, "throttled (ip quota; retry in 60 s)") // 47
		add(e.Add(-48*time.Hour), audit.LoginFailed, "unknown email")                         // 0: its first second
		add(e.Add(-48*time.Hour-time.Second), audit.LoginSucceeded, "")                       // before the window
		add(e, audit.LoginSucceeded, "")                                                      // after it
		add(e.Add(-time.Minute), audit.Logout, "")                                            // another type
		add(e.Add(-time.Minute), audit.LoginFailed, "wrong password when throttled (not a refusal)")

		got, err := db.LoginActivity(t.Context(), end, 48)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]audit.LoginHour, 48)
		for i := range want {
			want[i].Start = e.Add(time.Duration(i-48) * time.Hour)
		}
		want[0].Failed = 1
		want[46].Succeeded, want[46].Failed = 1, 1
		want[47].Succeeded, want[47].Failed, want[47].Throttled = 2, 1, 1
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("LoginActivity (-want +got):\n%s", diff)
		}

		for _, hours := range []int{0, -1, MaxActivityHours + 1} {
			if _, err := db.LoginActivity(t.Context(), end, hours); err == nil {
				t.Errorf("LoginActivity(%d hours): no error", hours)
			}
		}
	})
}

// TestCountDisabledUsers counts disabled accounts, before and after a
// change.
func TestCountDisabledUsers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		count := func() int {
			t.Helper()
			n, err := db.CountDisabledUsers(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 0 {
			t.Fatalf("empty store: %d disabled, want 0", n)
		}
		var ids []int64
		for i := range 3 {
			u := mustCreate(t, db, &user.User{Email: fmt.Sprintf("u%d@example.com", i), Name: "U", PasswordHash: "x"})
			ids = append(ids, u.ID)
		}
		for _, id := range ids[:2] {
			if err := db.SetDisabled(t.Context(), id, true); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(); n != 2 {
			t.Errorf("two of three disabled: count %d", n)
		}
		if err := db.SetDisabled(t.Context(), ids[0], false); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Errorf("one enabled again: count %d, want 1", n)
		}
	})
}

// markThrottled turns one seeded login.failed event in every ten into a
// throttle refusal, as refuseLogin words it, and ANALYZEs.
func markThrottled(tb testing.TB, db *DB) {
	tb.Helper()
	if _, err := db.db.ExecContext(tb.Context(), db.rebind(
		"UPDATE audit_events SET detail = 'throttled (ip quota; retry in 60 s)' WHERE type = ? AND id % 10 = 3"),
		string(audit.LoginFailed)); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.db.ExecContext(tb.Context(), "ANALYZE"); err != nil {
		tb.Fatal(err)
	}
}

// TestLoginActivityPlans: on a seeded log, every count of the overview is
// a range of an index, with no sort and no table scan; the sign-in counts
// read their index alone (SQLite: COVERING INDEX; PostgreSQL: Index Only
// Scan), and the disabled-account count reads the partial index.
// PostgreSQL reads an index alone only where its visibility map says the
// pages are all visible, which autovacuum keeps up to date on a live
// database (insert-triggered vacuums, PostgreSQL 13+); the freshly seeded
// tables are vacuumed to stand for that.
func TestLoginActivityPlans(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		seedAuditEvents(t, db, 30000, seedUsers, 10)
		markThrottled(t, db)
		seedUsersTable(t, db, 20000, 500)
		if db.Dialect() == DialectPostgres {
			if _, err := db.db.ExecContext(t.Context(), "VACUUM (ANALYZE) audit_events, users"); err != nil {
				t.Fatal(err)
			}
		}
		// The seeded log is one event a second from 1700000001: its last
		// 48 hours hold the whole log.
		end := time.Unix(1700000000+30000, 0)
		query, args := db.loginActivityQuery(end.Add(-48*time.Hour), 48)
		lines := plan(t, db, query, args...)
		checkCountPlan(t, lines, "audit_events_type_time_idx", "audit_events_login_throttled_time_idx")
		for _, l := range lines {
			if strings.Contains(l, "audit_events_type_time_idx") && !strings.Contains(l, "COVERING INDEX") && !strings.Contains(l, "Index Only Scan") {
				t.Errorf("step %q reads table rows, not the index alone:\n%s", strings.TrimSpace(l), strings.Join(lines, "\n"))
			}
		}
		lines = plan(t, db, db.disabledUsersQuery())
		checkCountPlan(t, lines, "users_disabled_idx")

		// The counts agree with a plain scan of the table.
		got, err := db.LoginActivity(t.Context(), end, 48)
		if err != nil {
			t.Fatal(err)
		}
		var ok, failed, throttled int
		for _, h := range got {
			ok, failed, throttled = ok+h.Succeeded, failed+h.Failed, throttled+h.Throttled
		}
		var wantOK, wantFailed, wantThrottled int
		if err := db.db.QueryRowContext(t.Context(), db.rebind(`SELECT
			sum(CASE WHEN type = ? THEN 1 ELSE 0 END),
			sum(CASE WHEN type = ? AND detail NOT LIKE 'throttled (%' THEN 1 ELSE 0 END),
			sum(CASE WHEN type = ? AND detail LIKE 'throttled (%' THEN 1 ELSE 0 END) FROM audit_events`),
			string(audit.LoginSucceeded), string(audit.LoginFailed), string(audit.LoginFailed)).
			Scan(&wantOK, &wantFailed, &wantThrottled); err != nil {
			t.Fatal(err)
		}
		if ok != wantOK || failed != wantFailed || throttled != wantThrottled || throttled == 0 {
			t.Errorf("48 h totals: %d succeeded, %d failed, %d throttled; the table says %d, %d, %d",
				ok, failed, throttled, wantOK, wantFailed, wantThrottled)
		}
		n, err := db.CountDisabledUsers(t.Context())
		if err != nil || n != 40 {
			t.Errorf("CountDisabledUsers = %d, %v; want 40 (one of 500 of 20,000)", n, err)
		}
	})
}

// seedUsersTable inserts n accounts in one statement, every disabledEvery-th
// disabled, and ANALYZEs.
func seedUsersTable(tb testing.TB, db *DB, n, disabledEvery int) {
	tb.Helper()
	cols := "'seed' || i || '@example.com', 'seed' || i || '@example.com', 'Seed', '$argon2id$x', 'user', "
	query := "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
		"INSERT INTO users (email, email_key, name, password_hash, role, disabled, created_at) SELECT " + cols +
		fmt.Sprintf("CASE WHEN i %% %d = 0 THEN 1 ELSE 0 END, 1700000000 FROM n", disabledEvery)
	if db.Dialect() == DialectPostgres {
		query = "INSERT INTO users (email, email_key, name, password_hash, role, disabled, created_at) SELECT " + cols +
			fmt.Sprintf("i %% %d = 0, now() FROM generate_series(1, $1) AS i", disabledEvery)
	}
	if _, err := db.db.ExecContext(tb.Context(), query, n); err != nil {
		tb.Fatalf("seed %d users: %v", n, err)
	}
	if _, err := db.db.ExecContext(tb.Context(), "ANALYZE"); err != nil {
		tb.Fatal(err)
	}
}

// checkCountPlan fails t unless lines use every index in want and show no
// sort step and no full scan of a table (the CTE of hours and
// generate_series are not tables).
func checkCountPlan(t *testing.T, lines []string, want ...string) {
	t.Helper()
	all := strings.Join(lines, "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.Contains(l, "TEMP B-TREE"), strings.Contains(l, "Sort"), strings.HasPrefix(l, "Seq Scan"),
			strings.HasPrefix(l, "Bitmap"), (strings.HasPrefix(l, "SCAN audit_events") || strings.HasPrefix(l, "SCAN users")) && !strings.Contains(l, "INDEX"):
			t.Errorf("plan has a sort or a full scan (%q):\n%s", l, all)
		}
	}
	for _, idx := range want {
		if !strings.Contains(all, idx) {
			t.Errorf("plan does not use %s:\n%s", idx, all)
		}
	}
}
