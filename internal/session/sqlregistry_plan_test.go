package session

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/store/storetest"
)

// seedSessions inserts n live sessions over users accounts (one statement:
// a recursive CTE on SQLite, generate_series on PostgreSQL), last seen one
// second apart, and ANALYZEs.
func seedSessions(t testing.TB, db *store.DB, n, users int) {
	t.Helper()
	now := time.Now().UnixMilli()
	cols := fmt.Sprintf("'h' || i, %d, 'hd' || i, i %% %d + 1, %d, %d - i * 1000, %d, '192.0.2.' || (i %% 250), 'Mozilla/5.0', 0",
		now+3600_000, users, now-86400_000, now, now+86400_000)
	var query string
	if db.Dialect() == store.DialectPostgres {
		query = "INSERT INTO sessions (token_hash, data, expiry, handle, user_id, created, seen, absolute, ip, user_agent, remember) " +
			"SELECT 'h' || i, '\\x00'::bytea, " + strings.TrimPrefix(cols, "'h' || i, ") + " FROM generate_series(1, $1) AS i"
	} else {
		query = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
			"INSERT INTO sessions (token_hash, data, expiry, handle, user_id, created, seen, absolute, ip, user_agent, remember) " +
			"SELECT 'h' || i, x'00', " + strings.TrimPrefix(cols, "'h' || i, ") + " FROM n"
	}
	if _, err := db.SQL().ExecContext(t.Context(), query, n); err != nil {
		t.Fatalf("seed %d sessions: %v", n, err)
	}
	if _, err := db.SQL().ExecContext(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}

// TestSQLSessionsPlans: on 20,000 sessions, every admin listing of the SQL
// registry pages through an index in last-activity order (no full scan; the
// only sort is of the page's own rows, at the top of the plan), a page from
// a cursor 15,000 sessions deep reads one range of that index (no OFFSET
// walk: checkSeekPlan), and the
// bounded count reads an index, on both databases.
func TestSQLSessionsPlans(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := "sqlite:" + filepath.Join(t.TempDir(), "latch.db")
			if dialect == store.DialectPostgres {
				url = storetest.PostgresURL(t)
			}
			db := OpenTestDB(t, url)
			seedSessions(t, db, 20000, 2000)
			st := NewSQLStore(db.SQL(), db.Dialect(), 5*time.Second)
			pg := dialect == store.DialectPostgres
			now := time.Now()
			deep := &Cursor{LastSeen: now.Add(-15000 * time.Second), Handle: "hd15000"} // 15,000 sessions deep
			tests := []struct {
				name string
				q    Query
				want string // index of the page
			}{
				{"first page", Query{Limit: 50}, "sessions_seen_idx"},
				{"page 20", Query{Offset: 950, Limit: 50}, "sessions_seen_idx"},
				{"page after a deep cursor", Query{Limit: 50, After: deep}, "sessions_seen_idx"},
				{"page before a deep cursor", Query{Limit: 50, Before: deep}, "sessions_seen_idx"},
				{"one account", Query{UserID: 17, Limit: 50}, "sessions_user_idx"},
				{"one IP", Query{IP: "192.0.2.7", Limit: 50}, "sessions_ip_idx"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					query, args := st.sessionsPageQuery(normalizeQuery(tt.q), now)
					lines := storetest.Plan(t, db.SQL(), pg, st.q(query), args...)
					filtered := pg && (tt.q.UserID != 0 || tt.q.IP != "")
					checkPagePlan(t, lines, tt.want, filtered)
					if tt.q.After != nil || tt.q.Before != nil {
						checkSeekPlan(t, db, pg, st.q(query), args, lines)
					}

					q := normalizeQuery(tt.q)
					q.CountLimit = 1000
					query, args = st.sessionsCountQuery(q, now)
					lines = storetest.Plan(t, db.SQL(), pg, st.q(query), args...)
					checkPagePlan(t, lines, "", filtered)
				})
			}
		})
	}
}

// TestSQLCountByKindPlan: on 20,000 sessions, 1,000 of them app sessions,
// CountByKind's statement reads the app sessions through the index
// sessions_kind_expiry_idx (SQLite from the index alone; PostgreSQL reads
// the matching rows through it), never by scanning or sorting the table;
// the count of all active sessions is SQLite's expiry index or, on
// PostgreSQL, whose planner prefers it when nearly every row is active,
// a sequential scan (as Sessions' unbounded total is); and the counts
// are exact.
func TestSQLCountByKindPlan(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := "sqlite:" + filepath.Join(t.TempDir(), "latch.db")
			if dialect == store.DialectPostgres {
				url = storetest.PostgresURL(t)
			}
			db := OpenTestDB(t, url)
			seedSessions(t, db, 20000, 2000)
			pg := dialect == store.DialectPostgres
			st := NewSQLStore(db.SQL(), db.Dialect(), 5*time.Second)
			app := storedAgent(Record{Kind: KindApp, DeviceName: "Pixel 9", UserAgent: "latch-app/1.0"})
			if _, err := db.SQL().ExecContext(t.Context(), st.q("UPDATE sessions SET user_agent = ? WHERE user_id <= 100"), app); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL().ExecContext(t.Context(), "ANALYZE"); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UnixMilli()
			lines := storetest.Plan(t, db.SQL(), pg, st.q(countByKindQuery), now, appAgentMark, now)
			all := strings.Join(lines, "\n")
			if !strings.Contains(all, "sessions_kind_expiry_idx") {
				t.Errorf("the app count does not use sessions_kind_expiry_idx:\n%s", all)
			}
			for _, l := range lines {
				d := strings.TrimSpace(l)
				if strings.Contains(d, "Sort") || strings.Contains(d, "TEMP B-TREE") ||
					(strings.HasPrefix(d, "SCAN sessions") && !strings.Contains(d, "INDEX")) {
					t.Errorf("plan sorts or scans the table (%q):\n%s", d, all)
				}
			}
			browser, apps, err := st.CountByKind(t.Context())
			if err != nil || browser != 19000 || apps != 1000 {
				t.Errorf("CountByKind = %d, %d, %v; want 19000 browser, 1000 app", browser, apps, err)
			}
		})
	}
}

// checkPagePlan fails t when lines scan a table without an index, sort
// below the top of the plan, or (want != "") do not use index want.
//
// filtered relaxes two things for PostgreSQL, whose planner reads a small
// set (one account's or one IP's sessions, a few dozen here) through a
// bitmap of index want and sorts it rather than walk the index in order;
// either way the cost is that of the matching set, not of the table. A
// sequential scan is accepted only straight under a Limit (the bounded
// count when nearly every row matches: it stops after CountLimit+1 rows).
func checkPagePlan(t *testing.T, lines []string, want string, filtered bool) {
	t.Helper()
	all := strings.Join(lines, "\n")
	for i, l := range lines {
		top := !strings.HasPrefix(l, "  ")
		d := strings.TrimSpace(l)
		underLimit := i > 0 && strings.TrimSpace(lines[i-1]) == "Limit"
		switch {
		case strings.HasPrefix(d, "Seq Scan") && !underLimit,
			strings.HasPrefix(d, "Bitmap") && !(filtered && (strings.Contains(d, want) || strings.HasPrefix(d, "Bitmap Heap Scan"))),
			strings.HasPrefix(d, "SCAN sessions") && !strings.Contains(d, "INDEX"):
			t.Errorf("plan scans the table (%q):\n%s", d, all)
		case (strings.Contains(d, "TEMP B-TREE") || strings.Contains(d, "Sort")) && !top && !filtered:
			t.Errorf("plan sorts below the page (%q):\n%s", d, all)
		}
	}
	if want != "" && !strings.Contains(all, want) {
		t.Errorf("plan does not use %s:\n%s", want, all)
	}
}

// checkSeekPlan fails t unless the page query from a cursor reads the
// (seen, handle) index from the cursor on (a range on the row value, not a
// walk from the newest entry): on SQLite the plan's search names the
// range; on PostgreSQL the index condition does, and the index scan,
// executed (EXPLAIN ANALYZE counts rows, no clock involved), returned no
// more entries than a page.
func checkSeekPlan(t *testing.T, db *store.DB, pg bool, query string, args []any, lines []string) {
	t.Helper()
	all := strings.Join(lines, "\n")
	if !pg {
		if !strings.Contains(all, "sessions_seen_idx ((seen,handle)<(?,?))") && !strings.Contains(all, "sessions_seen_idx ((seen,handle)>(?,?))") {
			t.Errorf("plan does not search sessions_seen_idx from the cursor:\n%s", all)
		}
		return
	}
	var raw []byte
	if err := db.SQL().QueryRowContext(t.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+query, args...).Scan(&raw); err != nil {
		t.Fatalf("explain analyze: %v", err)
	}
	type node struct {
		NodeType  string  `json:"Node Type"`
		IndexName string  `json:"Index Name"`
		IndexCond string  `json:"Index Cond"`
		Rows      float64 `json:"Actual Rows"`
		Plans     []node  `json:"Plans"`
	}
	var doc []struct{ Plan node }
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("explain output %s: %v", raw, err)
	}
	found := false
	var walk func(n node)
	walk = func(n node) {
		if n.IndexName == "sessions_seen_idx" {
			found = true
			if !strings.Contains(n.IndexCond, "ROW(seen, handle)") || n.Rows > 50 {
				t.Errorf("%s on sessions_seen_idx: condition %q, %v rows; want a range from the cursor of at most a page", n.NodeType, n.IndexCond, n.Rows)
			}
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(doc[0].Plan)
	if !found {
		t.Errorf("plan does not use sessions_seen_idx:\n%s", raw)
	}
}
