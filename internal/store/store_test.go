package store

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/store/storetest"
	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/migrations"
)

// openers name a fresh, empty database of each dialect for a test or a
// benchmark (mustOpen opens and migrates it).
var openers = []struct {
	dialect string
	url     func(tb testing.TB) string
}{
	{DialectSQLite, func(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "latch.db") }},
	{DialectPostgres, func(tb testing.TB) string { return storetest.PostgresURL(tb) }},
}

// mustOpen opens url with opts, migrates it and closes it when the test
// ends.
func mustOpen(tb testing.TB, url string, opts ...Option) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), url, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db
}

// forEachDialect runs fn as a parallel subtest per dialect, each with its
// own fresh database.
func forEachDialect(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	for _, o := range openers {
		t.Run(o.dialect, func(t *testing.T) {
			t.Parallel()
			db := mustOpen(t, o.url(t))
			if db.Dialect() != o.dialect {
				t.Fatalf("Dialect() = %q, want %q", db.Dialect(), o.dialect)
			}
			fn(t, db)
		})
	}
}

// mustCreate inserts u and fails the test on error.
func mustCreate(t *testing.T, db *DB, u *user.User) *user.User {
	t.Helper()
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Email, err)
	}
	return u
}

// fixedNow is a creation time with sub-second precision in a non-UTC zone,
// to check both dialects store the same thing.
var fixedNow = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

func TestUsers(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, db *DB)
	}{
		{"create and fetch", func(t *testing.T, db *DB) {
			db.now = func() time.Time { return fixedNow }
			u := mustCreate(t, db, &user.User{
				Email:        "  Ada.Lovelace@Example.com ",
				Name:         "Ada Lovelace",
				PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
			})
			want := &user.User{
				ID:           u.ID,
				Email:        "Ada.Lovelace@Example.com",
				Name:         "Ada Lovelace",
				PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
				Role:         user.RoleUser,
				CreatedAt:    time.Date(2025, 3, 14, 14, 9, 26, 0, time.UTC),
			}
			if u.ID <= 0 {
				t.Errorf("CreateUser set ID %d, want > 0", u.ID)
			}
			if diff := cmp.Diff(want, u); diff != "" {
				t.Errorf("CreateUser result (-want +got):\n%s", diff)
			}
			byID, err := db.UserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			if diff := cmp.Diff(want, byID); diff != "" {
				t.Errorf("UserByID (-want +got):\n%s", diff)
			}
			for _, lookup := range []string{"Ada.Lovelace@Example.com", "ada.lovelace@example.com", " ADA.LOVELACE@EXAMPLE.COM\t"} {
				got, err := db.UserByEmail(t.Context(), lookup)
				if err != nil {
					t.Fatalf("UserByEmail(%q): %v", lookup, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("UserByEmail(%q) (-want +got):\n%s", lookup, diff)
				}
			}
		}},
		{"ids increase", func(t *testing.T, db *DB) {
			a := mustCreate(t, db, &user.User{Email: "a@example.com", Name: "A", PasswordHash: "h"})
			b := mustCreate(t, db, &user.User{Email: "b@example.com", Name: "B", PasswordHash: "h"})
			if b.ID <= a.ID {
				t.Errorf("second ID %d not greater than first %d", b.ID, a.ID)
			}
		}},
		{"role, disabled and given creation time", func(t *testing.T, db *DB) {
			created := time.Date(2019, 1, 2, 3, 4, 5, 999, time.UTC)
			u := mustCreate(t, db, &user.User{
				Email: "root@example.com", Name: "Root", PasswordHash: "h",
				Role: user.RoleAdmin, Disabled: true, CreatedAt: created,
			})
			got, err := db.UserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Role != user.RoleAdmin || !got.Disabled || !got.CreatedAt.Equal(created.Truncate(time.Second)) {
				t.Errorf("got role %q, disabled %v, created %v; want admin, true, %v", got.Role, got.Disabled, got.CreatedAt, created.Truncate(time.Second))
			}
		}},
		{"duplicate email differs only in case", func(t *testing.T, db *DB) {
			first := mustCreate(t, db, &user.User{Email: "A@x.com", Name: "First", PasswordHash: "h1"})
			err := db.CreateUser(t.Context(), &user.User{Email: "a@X.com", Name: "Second", PasswordHash: "h2"})
			if !errors.Is(err, user.ErrEmailTaken) {
				t.Fatalf("CreateUser(duplicate) = %v, want ErrEmailTaken", err)
			}
			got, err := db.UserByEmail(t.Context(), "a@x.com")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != first.ID || got.Name != "First" || got.Email != "A@x.com" {
				t.Errorf("after duplicate, UserByEmail = %+v, want the first account unchanged", got)
			}
		}},
		{"concurrent duplicates: exactly one wins", func(t *testing.T, db *DB) {
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = db.CreateUser(t.Context(), &user.User{Email: "race@example.com", Name: "R", PasswordHash: "h"})
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, user.ErrEmailTaken):
					t.Errorf("CreateUser error = %v, want nil or ErrEmailTaken", err)
				}
			}
			if ok != 1 {
				t.Errorf("%d of %d concurrent creations succeeded, want 1", ok, n)
			}
		}},
		{"not found", func(t *testing.T, db *DB) {
			mustCreate(t, db, &user.User{Email: "someone@example.com", Name: "S", PasswordHash: "h"})
			if _, err := db.UserByID(t.Context(), 987654); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("UserByID(missing) = %v, want ErrNotFound", err)
			}
			for _, email := range []string{"nobody@example.com", "someone@example.org", "", "not an address"} {
				if _, err := db.UserByEmail(t.Context(), email); !errors.Is(err, user.ErrNotFound) {
					t.Errorf("UserByEmail(%q) = %v, want ErrNotFound", email, err)
				}
			}
			if err := db.SetPasswordHash(t.Context(), 987654, "h"); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("SetPasswordHash(missing) = %v, want ErrNotFound", err)
			}
		}},
		{"unicode", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "Jörg@Exämple.com", Name: "Zoë Ñúñez 王小明 🦊", PasswordHash: "h"})
			got, err := db.UserByEmail(t.Context(), "JÖRG@exämple.COM")
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			if got.ID != u.ID || got.Name != "Zoë Ñúñez 王小明 🦊" || got.Email != "Jörg@Exämple.com" {
				t.Errorf("UserByEmail = %+v, want the unicode account unchanged", got)
			}
		}},
		{"set password hash", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "p@example.com", Name: "P", PasswordHash: "$2y$10$old"})
			other := mustCreate(t, db, &user.User{Email: "q@example.com", Name: "Q", PasswordHash: "untouched"})
			if err := db.SetPasswordHash(t.Context(), u.ID, "$argon2id$new"); err != nil {
				t.Fatalf("SetPasswordHash: %v", err)
			}
			got, err := db.UserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.PasswordHash != "$argon2id$new" {
				t.Errorf("PasswordHash = %q, want $argon2id$new", got.PasswordHash)
			}
			if got, _ := db.UserByID(t.Context(), other.ID); got.PasswordHash != "untouched" {
				t.Errorf("other user's hash = %q, want untouched", got.PasswordHash)
			}
			if err := db.SetPasswordHash(t.Context(), u.ID, ""); err == nil {
				t.Error("SetPasswordHash(empty) succeeded, want an error")
			}
		}},
		{"invalid input is rejected", func(t *testing.T, db *DB) {
			if err := db.CreateUser(t.Context(), &user.User{Email: "not an address", Name: "N", PasswordHash: "h"}); !errors.Is(err, user.ErrInvalid) {
				t.Errorf("CreateUser(bad email) = %v, want ErrInvalid", err)
			}
			if err := db.CreateUser(t.Context(), &user.User{Email: "r@example.com", Name: "R", PasswordHash: "h", Role: "root"}); err == nil {
				t.Error("CreateUser(role root) succeeded, want an error")
			}
			if err := db.CreateUser(t.Context(), &user.User{Email: "r@example.com", Name: "R"}); err == nil {
				t.Error("CreateUser(no hash) succeeded, want an error")
			}
			// The database enforces the role set too.
			_, err := db.SQL().ExecContext(t.Context(), db.rebind(
				"INSERT INTO users (email, email_key, name, password_hash, role) VALUES (?, ?, ?, ?, ?)"),
				"r@example.com", "r@example.com", "R", "h", "root")
			if err == nil {
				t.Error("INSERT with role root succeeded, want a CHECK violation")
			}
		}},
		{"migrate twice is a no-op", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "m@example.com", Name: "M", PasswordHash: "h"})
			var before int
			if err := db.SQL().QueryRowContext(t.Context(), "SELECT count(*) FROM goose_db_version").Scan(&before); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			var after, version int
			if err := db.SQL().QueryRowContext(t.Context(), "SELECT count(*), max(version_id) FROM goose_db_version").Scan(&after, &version); err != nil {
				t.Fatal(err)
			}
			want := latestMigration(t, db.Dialect())
			if after != before || version != want {
				t.Errorf("goose_db_version rows %d -> %d, max version %d; want unchanged rows and version %d", before, after, version, want)
			}
			if _, err := db.UserByID(t.Context(), u.ID); err != nil {
				t.Errorf("user lost after second Migrate: %v", err)
			}
		}},
		{"sessions table", func(t *testing.T, db *DB) {
			data := []byte{0, 1, 2, 255}
			expiry := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
			hash := strings.Repeat("ab", 32)
			if _, err := db.SQL().ExecContext(t.Context(), db.rebind("INSERT INTO sessions (token_hash, data, expiry) VALUES (?, ?, ?)"), hash, data, expiry); err != nil {
				t.Fatalf("insert session: %v", err)
			}
			var (
				gotData   []byte
				gotExpiry int64
			)
			if err := db.SQL().QueryRowContext(t.Context(), db.rebind("SELECT data, expiry FROM sessions WHERE token_hash = ?"), hash).Scan(&gotData, &gotExpiry); err != nil {
				t.Fatalf("select session: %v", err)
			}
			if !cmp.Equal(gotData, data) || gotExpiry != expiry {
				t.Errorf("session row = %v, %d; want %v, %d", gotData, gotExpiry, data, expiry)
			}
			if _, err := db.SQL().ExecContext(t.Context(), db.rebind("INSERT INTO sessions (token_hash, data, expiry) VALUES (?, ?, ?)"), hash, data, expiry); err == nil {
				t.Error("duplicate token_hash accepted, want a primary key violation")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDialect(t, tt.run)
		})
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "latch.db")
	for _, url := range []string{"sqlite:" + path, "sqlite://" + path} {
		t.Run(url, func(t *testing.T) {
			db := mustOpen(t, url)
			for pragma, want := range map[string]string{
				"journal_mode": "wal",
				"foreign_keys": "1",
				"busy_timeout": "5000",
			} {
				var got string
				if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("PRAGMA %s: %v", pragma, err)
				}
				if got != want {
					t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantMsg string
	}{
		{"empty", "", `"sqlite:PATH" or "postgres://`},
		{"mysql", "mysql://root:hunter2@db/latch", `unsupported database URL scheme "mysql"`},
		{"bare path", "/var/lib/latch.db", `"sqlite:PATH" or "postgres://`},
		{"sqlite without path", "sqlite:", "no path"},
		{"sqlite with query", "sqlite:/tmp/x.db?mode=ro", `must not contain "?"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.url)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Open(%q) error = %q, want it to contain %q", tt.url, err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open error %q leaks the password", err)
			}
		})
	}
}

func TestRebind(t *testing.T) {
	pg := &DB{dialect: DialectPostgres}
	lite := &DB{dialect: DialectSQLite}
	const q = "UPDATE users SET a = ?, b = 'é' WHERE id = ?"
	if got, want := pg.rebind(q), "UPDATE users SET a = $1, b = 'é' WHERE id = $2"; got != want {
		t.Errorf("postgres rebind = %q, want %q", got, want)
	}
	if got := lite.rebind(q); got != q {
		t.Errorf("sqlite rebind = %q, want unchanged", got)
	}
}

// latestMigration returns the highest migration number shipped for dialect.
func latestMigration(t *testing.T, dialect string) int {
	t.Helper()
	names, err := fs.Glob(migrations.FS, dialect+"/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations for %s: %v", dialect, err)
	}
	latest := 0
	for _, n := range names {
		v, err := strconv.Atoi(strings.SplitN(path.Base(n), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		latest = max(latest, v)
	}
	return latest
}
