// Package sqldialect names the two SQL dialects Latch's database speaks
// and holds the one rewrite between them: queries are written once, in
// SQLite's style with '?' placeholders, and Rebind turns them into
// PostgreSQL's $1, $2, … It imports nothing, so both the SQL store
// (internal/store) and the embedded session store (internal/session) use
// it without the session package linking the database drivers.
package sqldialect

import (
	"strconv"
	"strings"
)

// The dialect names (store.DB.Dialect returns one).
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Rebind returns query with its '?' placeholders rewritten as $1, $2, ...
// when dialect is Postgres, and query itself otherwise. Queries must not
// contain a literal '?' (in a string constant or comment).
func Rebind(dialect, query string) string {
	if dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	b := make([]byte, 0, len(query)+16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b = append(b, '$')
			b = strconv.AppendInt(b, int64(n), 10)
			continue
		}
		b = append(b, query[i])
	}
	return string(b)
}
