package session_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
)

// TestSQLStoreLockedDatabaseIsUnavailable: while another process holds
// the SQLite write lock, the embedded session store's writes fail with
// ErrUnavailable (503), not a plain error (500): the database driver's
// error arrives marked fail.Unavailable by the SQL store's driver wrapper,
// which this package no longer imports a classifier for.
func TestSQLStoreLockedDatabaseIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := store.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := session.NewSQLStore(db.SQL(), db.Dialect(), 500*time.Millisecond)
	token := "tok-locked-0123456789abcdefghijklmnopqrstu"
	if err := st.CommitCtx(session.WithCreate(t.Context()), token, []byte("data"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", path) // another process, without Latch's driver wrapper
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	lock, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(t.Context(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lock.ExecContext(context.Background(), `ROLLBACK`)
		lock.Close()
	})

	err = st.CommitCtx(t.Context(), token, []byte("newer"), time.Now().Add(time.Hour))
	if !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("CommitCtx while the database is locked: %v, want ErrUnavailable", err)
	}
	if err := st.DeleteCtx(t.Context(), token); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("DeleteCtx while the database is locked: %v, want ErrUnavailable", err)
	}
}
