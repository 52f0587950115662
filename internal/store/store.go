// Package store keeps Latch's data in SQL: SQLite (modernc.org/sqlite, pure
// Go) or PostgreSQL (pgx). Every method takes a context first and wraps
// errors as "store: <operation>: <cause>"; the user package's sentinel
// errors (user.ErrNotFound, user.ErrEmailTaken) come through errors.Is,
// and a database that is down, too slow or too busy is
// errors.Is(err, fail.Unavailable), for every user of the pool (DB.SQL)
// too: the driver wrapper marks those errors where they arise (driver.go).
// The one exception is database/sql's own: when an operation's context
// ends before or while it waits for a pooled connection, the error is the
// bare context.DeadlineExceeded or context.Canceled.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latch/latch/internal/sqldialect"
	"github.com/latch/latch/migrations"
)

// Dialect names returned by DB.Dialect (internal/sqldialect's).
const (
	DialectSQLite   = sqldialect.SQLite
	DialectPostgres = sqldialect.Postgres
)

// sqlitePragmas is appended to every SQLite path: wait up to 5 s for a lock
// instead of failing with SQLITE_BUSY, write-ahead logging so readers do not
// block the writer, enforce foreign keys, and take the write lock at BEGIN
// so a read-then-write transaction cannot deadlock on lock upgrade, and
// synchronous=NORMAL, the setting SQLite recommends with WAL: a commit no
// longer waits for an fsync (a power loss may undo the last commits, never
// corrupt the file), which makes a login's session write ~10× cheaper.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// DB is a connection pool to one Latch database. It is safe for concurrent
// use. Create it with Open and release it with Close.
type DB struct {
	db       *sql.DB
	dialect  string
	counters *dbCounters
	// now returns the current time; tests may replace it.
	now func() time.Time
	// stateCache keeps the copy of account state beside the sessions
	// (userstate.go); nil keeps none.
	stateCache UserStateCache
}

// Open connects to the database named by url and checks that it answers.
//
// Accepted forms:
//
//	sqlite:PATH                     SQLite file at PATH (relative to the working directory
//	sqlite://PATH                   unless absolute); parent directories are created (0750)
//	postgres://user@host:5432/db    PostgreSQL, any URL pgx accepts, e.g. with
//	postgresql://...                ?sslmode=disable or ?search_path=schema
//
// PATH must not contain '?'. An unknown scheme is an error naming these
// forms; the error never repeats the URL, which may hold a password.
//
// The pool is sized for the driver (see Pool and WithMaxConns), and every
// connection is instrumented (Counters; on SQLite, prepared statements are
// cached per connection: see driver.go).
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var driver, dsn, dialect string
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return nil, errors.New(`store: open: sqlite URL has no path; use "sqlite:PATH", e.g. sqlite:data/latch.db`)
		}
		if strings.ContainsRune(path, '?') {
			return nil, errors.New(`store: open: sqlite path must not contain "?"`)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("store: open: create database directory: %w", err)
		}
		driver, dsn, dialect = "sqlite", path+"?"+sqlitePragmas, DialectSQLite
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		driver, dsn, dialect = "pgx", url, DialectPostgres
	default:
		scheme, _, ok := strings.Cut(url, ":")
		if !ok || strings.ContainsAny(scheme, "/@") {
			scheme = "(none)"
		}
		return nil, fmt.Errorf(`store: open: unsupported database URL scheme %q: use "sqlite:PATH" or "postgres://user@host:5432/dbname"`, scheme)
	}
	sqldb, counters, err := openPool(driver, dsn, dialect, o.maxConns)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db := &DB{db: sqldb, dialect: dialect, counters: counters, now: time.Now}
	if err := db.Ping(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("store: open: %w", err)
	}
	return db, nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// SQL returns the underlying pool, for packages that keep their own tables
// in the same database (the session store uses the sessions table). Callers
// must not close it; use DB.Close.
func (db *DB) SQL() *sql.DB { return db.db }

// Close closes the pool, waiting for queries in progress to finish.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Migrate applies every migration in migrations.FS for the dialect that has
// not been applied yet, recording versions in goose_db_version. Running it
// on an up-to-date database does nothing. On PostgreSQL, concurrent callers
// (several app instances starting) are serialised by an advisory lock scoped
// to the current schema, waiting up to 5 minutes.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations.FS, db.dialect)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	gooseDialect := goose.DialectSQLite3
	if db.dialect == DialectPostgres {
		gooseDialect = goose.DialectPostgres
		var schema string
		if err := db.db.QueryRowContext(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
			return fmt.Errorf("store: migrate: current schema: %w", err)
		}
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID(schema)),
			lock.WithLockTimeout(1, 300), // retry every second for 5 minutes
		)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gooseDialect, db.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// ErrSchemaOutdated means migrations have not all been applied; run
// `latch migrate`.
var ErrSchemaOutdated = errors.New("store: the database schema is not up to date; run `latch migrate` first")

// CheckSchema returns ErrSchemaOutdated when a migration shipped in
// migrations.FS has not been applied (or the database is empty), so that
// `latch serve` refuses to start rather than answer 500s.
func (db *DB) CheckSchema(ctx context.Context) error {
	fsys, err := fs.Sub(migrations.FS, db.dialect)
	if err != nil {
		return fmt.Errorf("store: check schema: %w", err)
	}
	gooseDialect := goose.DialectSQLite3
	if db.dialect == DialectPostgres {
		gooseDialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gooseDialect, db.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("store: check schema: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("store: check schema: %w", err)
	}
	if pending {
		return ErrSchemaOutdated
	}
	return nil
}

// migrationLockID returns the PostgreSQL advisory lock key for migrating
// schema. Advisory locks are per database, so keying by schema lets tests
// that each use their own schema migrate in parallel.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("latch-migrate:" + schema))
	return int64(h.Sum64())
}

// opTimeout bounds one store operation, so a stalled database answers 503
// (its error is fail.Unavailable: see driver.go's classify) instead of
// hanging the request.
const opTimeout = 3 * time.Second

// rebind rewrites '?' placeholders as $1, $2, ... for PostgreSQL
// (sqldialect.Rebind: the one place the rewrite happens, shared with the
// SQL session store).
func (db *DB) rebind(query string) string { return sqldialect.Rebind(db.dialect, query) }

// timeArg converts t for a created_at-style column: unix seconds on SQLite,
// a timestamptz on PostgreSQL.
func (db *DB) timeArg(t time.Time) any {
	if db.dialect == DialectSQLite {
		return t.Unix()
	}
	return t
}

// timeScanner reads a time column stored either as unix seconds (SQLite) or
// as a timestamp (PostgreSQL) into a UTC time.Time.
type timeScanner struct{ t *time.Time }

// Scan implements sql.Scanner.
func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*s.t = time.Unix(v, 0).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

// isUniqueViolation reports whether err is a unique-constraint violation of
// constraint (PostgreSQL constraint name) on column table.column (SQLite).
func isUniqueViolation(err error, constraint, column string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" && pgErr.ConstraintName == constraint // unique_violation
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		// SQLite names the columns, not the constraint:
		// "UNIQUE constraint failed: users.email_key".
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE &&
			strings.Contains(sqliteErr.Error(), column)
	}
	return false
}
