package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/latch/latch/internal/user"
)

// openSQLite opens a fresh migrated SQLite database with opts.
func openSQLite(t *testing.T, opts ...Option) *DB {
	t.Helper()
	return mustOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"), opts...)
}

// TestSQLiteStatementCache: on one connection, a query run many times is
// prepared once; every run is counted as a statement.
func TestSQLiteStatementCache(t *testing.T) {
	db := openSQLite(t, WithMaxConns(1))
	u := mustCreate(t, db, &user.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "$argon2id$x"})
	if _, err := db.UserByID(t.Context(), u.ID); err != nil { // warm: prepared here
		t.Fatal(err)
	}
	before := db.Counters()
	for range 100 {
		if _, err := db.UserByID(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
	}
	after := db.Counters()
	if n := after.Prepared - before.Prepared; n != 0 {
		t.Errorf("100 UserByID calls prepared %d statements, want 0 (cached)", n)
	}
	if n := after.Statements - before.Statements; n != 100 {
		t.Errorf("100 UserByID calls counted %d statements, want 100", n)
	}
	if n := after.ConnectionsOpened - before.ConnectionsOpened; n != 0 {
		t.Errorf("%d connections opened, want 0 (the pool keeps its one)", n)
	}
}

// TestSQLiteStatementCacheBusyAndEvicted: a cached statement whose rows are
// still open is not reused (the same query inside the loop runs on its own
// statement), and more distinct queries than the cache holds still all run
// correctly, with the cache bounded.
func TestSQLiteStatementCacheBusyAndEvicted(t *testing.T) {
	db := openSQLite(t, WithMaxConns(1))
	for i := range 3 {
		mustCreate(t, db, &user.User{Email: fmt.Sprintf("u%d@example.com", i), Name: "U", PasswordHash: "$argon2id$x"})
	}
	tx, err := db.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = "SELECT id FROM users ORDER BY id"
	outer, err := tx.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	rowsSeen := 0
	for outer.Next() {
		rowsSeen++
		inner, err := tx.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		inner.Close()
		if n != 3 {
			t.Fatalf("inner run of the busy query read %d rows, want 3", n)
		}
	}
	outer.Close()
	if rowsSeen != 3 {
		t.Fatalf("outer run read %d rows, want 3", rowsSeen)
	}
	tx.Rollback()

	for i := range stmtCacheSize + 20 {
		var got int
		if err := db.db.QueryRowContext(t.Context(), fmt.Sprintf("SELECT %d + count(*) FROM users", i)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != i+3 {
			t.Fatalf("query %d = %d, want %d", i, got, i+3)
		}
	}
	before := db.Counters().Prepared
	if _, err := db.UserByEmail(t.Context(), "u1@example.com"); err != nil {
		t.Fatal(err)
	}
	if db.Counters().Prepared == before {
		t.Errorf("UserByEmail was still cached after %d other queries; want it evicted (cache bounded at %d)",
			stmtCacheSize+20, stmtCacheSize)
	}
}

// TestPoolNeverChurns: 64 goroutines reading at once open at most the
// pool's connections, and the pool keeps them (MaxIdle = MaxOpen), so two
// bursts together open no more than the pool holds.
func TestPoolNeverChurns(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		u := mustCreate(t, db, &user.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "$argon2id$x"})
		want := DefaultPool(db.Dialect(), 0)
		if s := db.Stats(); s.MaxOpenConnections != want.MaxOpen {
			t.Fatalf("MaxOpenConnections = %d, want %d", s.MaxOpenConnections, want.MaxOpen)
		}
		burst := func() {
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for range 5 {
						if _, err := db.UserByID(t.Context(), u.ID); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
		}
		burst()
		opened := db.Counters().ConnectionsOpened
		if opened > uint64(want.MaxOpen) {
			t.Errorf("a burst of 64 opened %d connections, want at most %d", opened, want.MaxOpen)
		}
		// The second burst may need a connection the first did not (its
		// peak concurrency is up to the scheduler), but never more than
		// the pool holds in all: none is closed and opened again.
		burst()
		if total := db.Counters().ConnectionsOpened; total > uint64(want.MaxOpen) {
			t.Errorf("two bursts opened %d connections in all, want at most %d (idle ones kept)", total, want.MaxOpen)
		}
	})
}

// TestDefaultPool pins the documented pool shapes.
func TestDefaultPool(t *testing.T) {
	if p := DefaultPool(DialectPostgres, 0); p.MaxOpen != 10 || p.MaxIdle != 10 || p.MaxIdleTime == 0 || p.MaxLifetime == 0 {
		t.Errorf("postgres default pool %+v", p)
	}
	if p := DefaultPool(DialectSQLite, 0); p.MaxOpen < 4 || p.MaxIdle != p.MaxOpen || p.MaxIdleTime != 0 || p.MaxLifetime != 0 {
		t.Errorf("sqlite default pool %+v", p)
	}
	if p := DefaultPool(DialectSQLite, 3); p.MaxOpen != 3 || p.MaxIdle != 3 {
		t.Errorf("sqlite pool of 3: %+v", p)
	}
}
