package storetest

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
)

// Plan returns how the database behind db runs query with args, one line
// per plan step, indented two spaces per level of nesting: SQLite's
// EXPLAIN QUERY PLAN details ("SEARCH audit_events USING INDEX
// audit_events_actor_time_idx (actor_id=?)", "USE TEMP B-TREE FOR ORDER
// BY"), or, with postgres, the node type, direction, index or table of
// each node of EXPLAIN (FORMAT JSON) ("Index Scan Backward
// audit_events_time_idx", "Sort", "Seq Scan on sessions"). query uses the
// database's own placeholders. Tests assert on it that a listing is read
// from an index in its order (no sort step, no full scan): a deterministic
// check of cost, unlike a timing.
func Plan(t testing.TB, db *sql.DB, postgres bool, query string, args ...any) []string {
	t.Helper()
	if !postgres {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		defer rows.Close()
		depth := map[int]int{0: -1}
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			depth[id] = depth[parent] + 1
			lines = append(lines, strings.Repeat("  ", depth[id])+detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return lines
	}
	var raw []byte
	if err := db.QueryRowContext(t.Context(), "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&raw); err != nil {
		t.Fatalf("explain: %v", err)
	}
	var doc []struct{ Plan pgNode }
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("explain output %s: %v", raw, err)
	}
	var lines []string
	var walk func(n pgNode, depth int)
	walk = func(n pgNode, depth int) {
		line := strings.Repeat("  ", depth) + n.NodeType
		if n.Direction == "Backward" {
			line += " Backward"
		}
		switch {
		case n.IndexName != "":
			line += " " + n.IndexName
		case n.RelationName != "":
			line += " on " + n.RelationName
		}
		lines = append(lines, line)
		for _, c := range n.Plans {
			walk(c, depth+1)
		}
	}
	walk(doc[0].Plan, 0)
	return lines
}

// pgNode is one node of PostgreSQL's JSON plan.
type pgNode struct {
	NodeType     string   `json:"Node Type"`
	RelationName string   `json:"Relation Name"`
	IndexName    string   `json:"Index Name"`
	Direction    string   `json:"Scan Direction"`
	Plans        []pgNode `json:"Plans"`
}
