package store

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"reflect"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latch/latch/internal/fail"
)

// This file is the one layer between database/sql and the database
// drivers (pgx's stdlib driver, modernc's SQLite driver). Every physical
// connection the pool opens comes from instrumentedConnector and every
// statement runs through instrumentedConn, so nothing bypasses it:
//
//   - it counts the statements the database executes and the connections
//     opened (Counters; exported as Prometheus metrics by internal/metrics
//     and read by `make bench`);
//   - on SQLite it keeps, per connection, the prepared statements of the
//     last stmtCacheSize distinct query texts, so a hot query is parsed and
//     planned once per connection instead of on every call;
//   - it marks every driver error that means the database could not be
//     reached, was too slow or too busy as fail.Unavailable (classify), so
//     that every user of the *sql.DB (this package, the SQL session store,
//     goose) can tell with errors.Is(err, fail.Unavailable) that trying
//     again later may succeed, without knowing the drivers' error types.
//
// Why a cache here and not *sql.Stmt values: modernc's driver has no
// statement cache of its own — its Conn.QueryContext and ExecContext
// prepare, run and finalize the statement on every call (the ~39% of CPU
// issue 7 measured) — while a driver.Stmt it returns from PrepareContext
// keeps its compiled statement and only resets it between runs. A cache
// keyed by query text gives every caller (users, audit, devices, resets,
// the SQL session store, goose) that benefit without threading *sql.Stmt
// values through the code, and it lives on the connection, where a
// statement belongs; *sql.Stmt would re-prepare lazily on each connection
// too, but needs every call site changed. pgx needs none of this: its
// stdlib driver runs queries in pgx's default QueryExecModeCacheStatement,
// an LRU of 512 server-side prepared statements per connection
// (statement_cache_capacity in the URL changes it), which is the same
// design on the server side.

// stmtCacheSize is how many prepared statements each SQLite connection
// keeps (least recently used dropped first). Latch has a few dozen
// distinct query texts; filters of the list pages multiply them a little.
const stmtCacheSize = 128

// Counters are totals since the pool was opened.
type Counters struct {
	// Statements is the number of SQL statements the database was asked to
	// execute: every query and exec (prepared or not), and each BEGIN,
	// COMMIT and ROLLBACK. Preparing a statement and pinging do not count.
	Statements uint64
	// ConnectionsOpened is the number of physical connections opened (on
	// PostgreSQL each is a new server backend).
	ConnectionsOpened uint64
	// Prepared is the number of statements Latch's SQLite statement cache
	// has prepared (parsed and planned); it stops growing once every hot
	// query is cached on every connection. Always 0 on PostgreSQL, whose
	// statement cache is pgx's.
	Prepared uint64
}

// dbCounters holds the live counts behind Counters.
type dbCounters struct {
	statements, conns, prepared atomic.Uint64
}

// instrumentedConnector wraps the driver's connector; see the file comment.
type instrumentedConnector struct {
	base     driver.Connector
	counters *dbCounters
	cache    int // statements cached per connection; 0 = none
}

// Connect implements driver.Connector.
func (c *instrumentedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, classify(err)
	}
	c.counters.conns.Add(1)
	ic := &instrumentedConn{Conn: conn, counters: c.counters}
	if c.cache > 0 {
		ic.stmts = newStmtCache(c.cache)
	}
	return ic, nil
}

// Driver implements driver.Connector.
func (c *instrumentedConnector) Driver() driver.Driver { return c.base.Driver() }

// instrumentedConn forwards every optional interface both drivers
// implement (modernc's connector documentation lists them: without them
// database/sql falls back to context-free calls).
type instrumentedConn struct {
	driver.Conn
	counters *dbCounters
	stmts    *stmtCache // nil: no caching (PostgreSQL)
}

var (
	_ driver.ConnBeginTx        = (*instrumentedConn)(nil)
	_ driver.ConnPrepareContext = (*instrumentedConn)(nil)
	_ driver.ExecerContext      = (*instrumentedConn)(nil)
	_ driver.QueryerContext     = (*instrumentedConn)(nil)
	_ driver.Pinger             = (*instrumentedConn)(nil)
	_ driver.SessionResetter    = (*instrumentedConn)(nil)
	_ driver.Validator          = (*instrumentedConn)(nil)
	_ driver.NamedValueChecker  = (*instrumentedConn)(nil)
)

// Unwrap returns the driver's connection (modernc's sqlite.Limit and
// (*sql.Conn).Raw users look through wrappers with it).
func (c *instrumentedConn) Unwrap() driver.Conn { return c.Conn }

// Close closes the cached statements, then the connection.
func (c *instrumentedConn) Close() error {
	if c.stmts != nil {
		c.stmts.closeAll()
	}
	return c.Conn.Close()
}

// BeginTx implements driver.ConnBeginTx; BEGIN and the COMMIT or ROLLBACK
// that ends the transaction count as statements.
func (c *instrumentedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.counters.statements.Add(1)
	var (
		tx  driver.Tx
		err error
	)
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 fallback for drivers without BeginTx
		tx, err = c.Conn.Begin()
	}
	if err != nil {
		return nil, classify(err)
	}
	return countedTx{tx, c.counters}, nil
}

// PrepareContext implements driver.ConnPrepareContext. A statement the
// caller prepares itself is not cached; its executions are counted.
func (c *instrumentedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil, classify(err)
	}
	return &countedStmt{Stmt: st, counters: c.counters}, nil
}

func (c *instrumentedConn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

// ExecContext implements driver.ExecerContext.
func (c *instrumentedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.exec(ctx, query, args)
	return res, classify(err)
}

func (c *instrumentedConn) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.stmts != nil {
		st, err := c.cached(ctx, query)
		if err != nil {
			return nil, err
		}
		if st != nil {
			c.counters.statements.Add(1)
			defer c.stmts.release(st)
			return st.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
		}
	}
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares through PrepareContext instead
	}
	c.counters.statements.Add(1)
	return e.ExecContext(ctx, query, args)
}

// QueryContext implements driver.QueryerContext.
func (c *instrumentedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.query(ctx, query, args)
	if err != nil {
		return nil, classify(err)
	}
	if r, ok := rows.(*releasingRows); ok {
		return r, nil
	}
	return &releasingRows{Rows: rows}, nil
}

func (c *instrumentedConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.stmts != nil {
		st, err := c.cached(ctx, query)
		if err != nil {
			return nil, err
		}
		if st != nil {
			c.counters.statements.Add(1)
			rows, err := st.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
			if err != nil {
				c.stmts.release(st)
				return nil, err
			}
			return &releasingRows{Rows: rows, release: func() { c.stmts.release(st) }}, nil
		}
	}
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.counters.statements.Add(1)
	return q.QueryContext(ctx, query, args)
}

// cached returns the connection's prepared statement for query, marked
// busy until released, preparing it on first use; nil (no error) when the
// statement is busy already (its rows are still open on this connection,
// e.g. inside a transaction) or cannot run with a context, so the caller
// runs query uncached.
func (c *instrumentedConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if st := c.stmts.get(query); st != nil {
		if st.busy {
			return nil, nil
		}
		st.busy = true
		return st, nil
	}
	raw, err := c.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	c.counters.prepared.Add(1)
	_, canExec := raw.(driver.StmtExecContext)
	_, canQuery := raw.(driver.StmtQueryContext)
	if !canExec || !canQuery {
		raw.Close()
		return nil, nil
	}
	st := c.stmts.add(query, raw)
	st.busy = true
	return st, nil
}

// Ping implements driver.Pinger.
func (c *instrumentedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return classify(p.Ping(ctx))
	}
	return nil
}

// ResetSession implements driver.SessionResetter.
func (c *instrumentedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid implements driver.Validator.
func (c *instrumentedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue implements driver.NamedValueChecker; without one in the
// driver, database/sql's default conversion applies.
func (c *instrumentedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// classify returns err marked as fail.Unavailable when it means the
// database could not be reached, was too slow, or was too busy, so that
// trying again later may succeed: a deadline or cancellation, a network
// error, a broken connection (driver.ErrBadConn: database/sql still sees
// it through the mark and retries on another connection; pgx's "unexpected
// EOF" when the server went away in the middle of a reply), pgx's connect
// errors, PostgreSQL's connection-exception (08), operator-intervention
// (57: e.g. the server shutting down) and insufficient-resources (53)
// classes, SQLite's BUSY and LOCKED. The server answers those with 503
// and Retry-After rather than 500. Any other error (nil, driver.ErrSkip,
// a constraint violation, a syntax error) is returned as it is. The
// message is unchanged: the mark adds no text.
func classify(err error) error {
	if err == nil || errors.Is(err, fail.Unavailable) || !unavailable(err) {
		return err
	}
	return fail.Wrap(fail.Unavailable, err, "")
}

// unavailable is classify's rule (see there).
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:min(2, len(pgErr.Code))]
		return class == "08" || class == "57" || class == "53"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code() & 0xff // primary result code
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

// countedTx counts the statement that ends a transaction.
type countedTx struct {
	driver.Tx
	counters *dbCounters
}

func (t countedTx) Commit() error {
	t.counters.statements.Add(1)
	return classify(t.Tx.Commit())
}

func (t countedTx) Rollback() error {
	t.counters.statements.Add(1)
	return classify(t.Tx.Rollback())
}

// countedStmt counts the executions of a statement prepared by a caller.
type countedStmt struct {
	driver.Stmt
	counters *dbCounters
}

func (s *countedStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.counters.statements.Add(1)
	//lint:ignore SA1019 database/sql calls it only when the driver lacks StmtExecContext
	res, err := s.Stmt.Exec(args)
	return res, classify(err)
}

func (s *countedStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.counters.statements.Add(1)
	//lint:ignore SA1019 as Exec
	rows, err := s.Stmt.Query(args)
	return rows, classify(err)
}

func (s *countedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("store: driver statement has no ExecContext")
	}
	s.counters.statements.Add(1)
	res, err := e.ExecContext(ctx, args)
	return res, classify(err)
}

func (s *countedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, errors.New("store: driver statement has no QueryContext")
	}
	s.counters.statements.Add(1)
	rows, err := q.QueryContext(ctx, args)
	return rows, classify(err)
}

// CheckNamedValue forwards to the driver's statement or connection rules.
func (s *countedStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// stmtCache is one connection's prepared statements by query text, least
// recently used first out. database/sql uses a connection from one
// goroutine at a time (it holds the connection's lock around every driver
// call, rows' Close included), so the cache needs no lock of its own.
type stmtCache struct {
	size  int
	order *list.List // of *cachedStmt, most recently used at the front
	byKey map[string]*list.Element
}

type cachedStmt struct {
	driver.Stmt
	query   string
	busy    bool // rows of it are open
	evicted bool // dropped from the cache while busy: close on release
}

func newStmtCache(size int) *stmtCache {
	return &stmtCache{size: size, order: list.New(), byKey: make(map[string]*list.Element, size)}
}

func (c *stmtCache) get(query string) *cachedStmt {
	el, ok := c.byKey[query]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cachedStmt)
}

func (c *stmtCache) add(query string, st driver.Stmt) *cachedStmt {
	cs := &cachedStmt{Stmt: st, query: query}
	c.byKey[query] = c.order.PushFront(cs)
	for c.order.Len() > c.size {
		old := c.order.Remove(c.order.Back()).(*cachedStmt)
		delete(c.byKey, old.query)
		if old.busy {
			old.evicted = true
		} else {
			old.Close()
		}
	}
	return cs
}

func (c *stmtCache) release(st *cachedStmt) {
	st.busy = false
	if st.evicted {
		st.Close()
	}
}

func (c *stmtCache) closeAll() {
	for el := c.order.Front(); el != nil; el = el.Next() {
		el.Value.(*cachedStmt).Close()
	}
	c.order.Init()
	clear(c.byKey)
}

// releasingRows are the rows of every query: they classify the errors of
// Next (io.EOF, the normal end, is never marked) and give a cached
// statement back when closed (release, nil for rows of no cached
// statement), forwarding the column-type interfaces of the driver's rows.
type releasingRows struct {
	driver.Rows
	release func()
	done    bool
}

func (r *releasingRows) Next(dest []driver.Value) error { return classify(r.Rows.Next(dest)) }

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	if !r.done && r.release != nil {
		r.done = true
		r.release()
	}
	return classify(err)
}

func (r *releasingRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *releasingRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *releasingRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *releasingRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *releasingRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
