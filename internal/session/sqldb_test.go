package session

import (
	"testing"

	"github.com/latch/latch/internal/store"
)

// OpenTestDB opens the database at url (a SQLite file, or a PostgreSQL
// schema from storetest.PostgresURL), migrates it and closes it when the
// test ends: the embedded store's tables for this package's tests. It is
// exported for the package's external tests (package session_test).
func OpenTestDB(tb testing.TB, url string) *store.DB {
	tb.Helper()
	db, err := store.Open(tb.Context(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return db
}
