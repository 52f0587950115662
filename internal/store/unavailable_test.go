package store

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/store/storetest"
	"github.com/latch/latch/internal/user"
)

// relay forwards TCP connections to a real server until cut: then it
// closes its listener and every connection, as a server that stopped (or
// a network that failed) would leave them.
type relay struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			r.wg.Add(2)
			go func() { defer r.wg.Done(); io.Copy(up, c); up.Close() }()
			go func() { defer r.wg.Done(); io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(r.cut)
	return r
}

// cut stops the relay; connecting to its address is refused afterwards.
func (r *relay) cut() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}

// TestPostgresGoneIsUnavailable: when PostgreSQL stops answering (its
// connections are cut and new ones refused), a store read fails with an
// error marked fail.Unavailable (the server answers 503), and so does a
// query of a user of the *sql.DB the store shares (the SQL session
// store's way in); user.ErrNotFound is not claimed. Before, only the
// store.Unavailable predicate, injected into the server, knew.
func TestPostgresGoneIsUnavailable(t *testing.T) {
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	r := startRelay(t, u.Host)
	u.Host = r.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	db, err := Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ada := mustCreate(t, db, &user.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "$argon2id$x"})

	r.cut()
	_, err = db.UserByID(t.Context(), ada.ID)
	if !errors.Is(err, fail.Unavailable) || errors.Is(err, user.ErrNotFound) {
		t.Errorf("UserByID with PostgreSQL gone: %v (kind %v), want fail.Unavailable", err, fail.KindOf(err))
	}
	var n int
	err = db.SQL().QueryRowContext(t.Context(), `SELECT count(*) FROM sessions`).Scan(&n)
	if !errors.Is(err, fail.Unavailable) {
		t.Errorf("a query on DB.SQL with PostgreSQL gone: %v, want fail.Unavailable", err)
	}
}

// TestPostgresUnreachableAtOpen: Open against an address where nothing
// listens fails with fail.Unavailable (start-up may be retried), and the
// error does not repeat the password.
func TestPostgresUnreachableAtOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nothing listens on
	_, err = Open(t.Context(), "postgres://latch:hunter2@"+addr+"/test?sslmode=disable&connect_timeout=5")
	if !errors.Is(err, fail.Unavailable) {
		t.Errorf("Open of an unreachable PostgreSQL: %v, want fail.Unavailable", err)
	}
}

// TestSQLiteLockedIsUnavailable: while another process holds SQLite's
// write lock, a write fails with fail.Unavailable: through a store method
// (its bounded wait runs out) and straight on DB.SQL (SQLITE_BUSY at
// once with no busy timeout). Errors that are not about availability stay
// unmarked.
func TestSQLiteLockedIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ada := mustCreate(t, db, &user.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "$argon2id$x"})

	err = db.CreateUser(t.Context(), &user.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "$argon2id$x"})
	if !errors.Is(err, user.ErrEmailTaken) || errors.Is(err, fail.Unavailable) {
		t.Errorf("duplicate email: %v, want user.ErrEmailTaken and not fail.Unavailable", err)
	}
	if _, err := db.SQL().ExecContext(t.Context(), `SELEKT 1`); err == nil || errors.Is(err, fail.Unavailable) {
		t.Errorf("syntax error: %v, want an error not marked fail.Unavailable", err)
	}

	other, err := sql.Open("sqlite", path) // another process's connection, without Latch's driver wrapper
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

	err = db.CreateUser(t.Context(), &user.User{Email: "bob@example.com", Name: "Bob", PasswordHash: "$argon2id$x"})
	if !errors.Is(err, fail.Unavailable) {
		t.Errorf("CreateUser while the database is locked: %v, want fail.Unavailable", err)
	}
	conn, err := db.SQL().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `PRAGMA busy_timeout = 0`); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(t.Context(), `UPDATE users SET name = 'Ada L' WHERE id = ?`, ada.ID)
	if !errors.Is(err, fail.Unavailable) {
		t.Errorf("UPDATE on DB.SQL while the database is locked: %v, want fail.Unavailable", err)
	}
}
