package store

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// Option changes how Open sets up the pool.
type Option func(*options)

type options struct {
	maxConns int
}

// WithMaxConns sets the most connections the pool opens at once
// (LATCH_DATABASE_MAX_CONNS); n <= 0 keeps the driver's default (see
// Pool).
func WithMaxConns(n int) Option {
	return func(o *options) { o.maxConns = n }
}

// Pool is the connection pool shape for one dialect, as Open applies it.
//
// database/sql's own defaults (unlimited open connections, 2 idle) are
// the worst case for a busy server: at 64 concurrent requests it opens a
// connection per request and closes all but two right after, so most
// requests pay for a new connection (issue 7 measured ~15% of CPU on
// SQLite; on PostgreSQL each one is a new server process). Latch's pools
// therefore never shrink under load — MaxIdle equals MaxOpen — and a
// request beyond MaxOpen waits for a free connection (counted in
// sql.DBStats.WaitCount, exported as latch_db_wait_total) instead of
// opening one.
//
//   - SQLite (WAL): readers run in parallel on their own connections and
//     one writer at a time holds the write lock (busy_timeout makes the
//     others wait, _txlock=immediate takes the lock at BEGIN). The work is
//     CPU in this process, so more connections than 2 × GOMAXPROCS (at
//     least 4) only add waiting writers and cold statement caches.
//     Connections never expire: a local file has nothing to re-balance.
//   - PostgreSQL: 10 connections (HikariCP's well-known default; the
//     PostgreSQL wiki's rule of thumb is about twice the server's cores
//     for all clients together, and several instances share one server),
//     closed after 30 minutes unused (only after a quiet spell, never
//     during steady load) and after 1 hour in all, so that a fail-over or a
//     connection pooler's re-balancing reaches every connection and backend
//     memory does not grow for ever.
type Pool struct {
	MaxOpen, MaxIdle int
	MaxIdleTime      time.Duration // 0 = never closed for being idle
	MaxLifetime      time.Duration // 0 = never closed for age
}

// DefaultPool returns the pool shape for dialect (DialectSQLite or
// DialectPostgres) with at most maxConns connections, or the dialect's
// default when maxConns <= 0.
func DefaultPool(dialect string, maxConns int) Pool {
	if dialect == DialectPostgres {
		if maxConns <= 0 {
			maxConns = 10
		}
		return Pool{MaxOpen: maxConns, MaxIdle: maxConns, MaxIdleTime: 30 * time.Minute, MaxLifetime: time.Hour}
	}
	if maxConns <= 0 {
		maxConns = max(4, 2*runtime.GOMAXPROCS(0))
	}
	return Pool{MaxOpen: maxConns, MaxIdle: maxConns}
}

// openPool opens the instrumented pool for driverName ("sqlite" or "pgx")
// on dsn; see driver.go and Pool.
func openPool(driverName, dsn, dialect string, maxConns int) (*sql.DB, *dbCounters, error) {
	var (
		base  driver.Connector
		cache int
		err   error
	)
	switch driverName {
	case "sqlite":
		base, err = sqlite.NewConnector(dsn)
		cache = stmtCacheSize
	case "pgx":
		// pgx caches prepared statements per connection itself
		// (QueryExecModeCacheStatement, 512 statements).
		base, err = stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(dsn)
	default:
		err = fmt.Errorf("unknown driver %q", driverName)
	}
	if err != nil {
		return nil, nil, err
	}
	counters := &dbCounters{}
	db := sql.OpenDB(&instrumentedConnector{base: base, counters: counters, cache: cache})
	p := DefaultPool(dialect, maxConns)
	db.SetMaxOpenConns(p.MaxOpen)
	db.SetMaxIdleConns(p.MaxIdle)
	db.SetConnMaxIdleTime(p.MaxIdleTime)
	db.SetConnMaxLifetime(p.MaxLifetime)
	return db, counters, nil
}

// Counters returns the statements executed and connections opened since
// Open (see Counters).
func (db *DB) Counters() Counters {
	return Counters{Statements: db.counters.statements.Load(), ConnectionsOpened: db.counters.conns.Load(),
		Prepared: db.counters.prepared.Load()}
}

// Stats returns the pool's database/sql statistics (open, in use, idle,
// waits).
func (db *DB) Stats() sql.DBStats { return db.db.Stats() }
