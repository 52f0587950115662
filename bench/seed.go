package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/sqldialect"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// benchPassword is the password of every seeded account. It is only ever
// sent to Latch on loopback, in a form body.
const benchPassword = "correct horse battery staple 42"

// The accounts the harness signs in as. Each has its own argon2id hash;
// the bulk accounts share one precomputed hash of the same password, which
// is valid, so any of them can sign in too (the login rows use them as
// distinct accounts).
const (
	readerEmail   = "reader@bench.example"   // /profile and the light page: readerEvents events
	heavyEmail    = "heavy@bench.example"    // /profile with sizes.HeavyEvents events
	emptyEmail    = "empty@bench.example"    // /profile with no history (but its own sign-in)
	adminEmail    = "admin@bench.example"    // the admin pages
	templateEmail = "template@bench.example" // owns the template rows the bulk events are copied from
	readerEvents  = 100
)

// bulkEmail is the address of bulk account n (1-based).
func bulkEmail(n int) string { return fmt.Sprintf("user%d@bench.example", n) }

// sizes are the seed sizes of one run.
type sizes struct {
	Users       int // accounts in the database, bulk ones included
	Events      int // audit events in the database
	HeavyEvents int // events of the heavy account (part of Events)
	Sessions    int // active sessions in each Latch Redis, for the admin list
}

var (
	fullSizes  = sizes{Users: 100_000, Events: 1_000_000, HeavyEvents: 10_000, Sessions: 100_000}
	quickSizes = sizes{Users: 10_000, Events: 100_000, HeavyEvents: 1_000, Sessions: 10_000}
)

// seeded describes a seeded database: the bulk accounts' IDs are
// FirstBulkID … FirstBulkID+BulkUsers-1.
type seeded struct {
	FirstBulkID int64
	BulkUsers   int
}

// seedDB migrates the database at dbURL and fills it: the named accounts
// (each with its own hash), sz.Users bulk accounts sharing sharedHash, and
// sz.Events audit events: readerEvents for the reader, sz.HeavyEvents for
// the heavy account, the rest spread evenly over the bulk accounts.
//
// Rows are generated inside the database (PostgreSQL generate_series,
// SQLite a recursive CTE in one transaction), so a million events take
// seconds, not the hours a million round trips would. The events are copies
// of template rows written through store.InsertAuditEvent, with every
// "…_id" column that names the template account rewritten to the new
// owner: a column added by a migration (say a user_id the profile query
// reads) is filled like the store fills it, without this file knowing it.
// PostgreSQL gets ANALYZE afterwards (autovacuum would do it within a
// minute of such a load anyway); SQLite gets none, as Latch runs none.
func seedDB(ctx context.Context, dbURL string, sz sizes, hasher *password.Hasher, sharedHash string) (seeded, error) {
	var res seeded
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return res, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return res, err
	}
	ids := map[string]int64{}
	for _, email := range []string{readerEmail, heavyEmail, emptyEmail, adminEmail, templateEmail} {
		hash, err := hasher.Hash(ctx, benchPassword)
		if err != nil {
			return res, fmt.Errorf("seed: hash: %w", err)
		}
		u := &user.User{Email: email, Name: strings.Split(email, "@")[0], PasswordHash: hash, Role: user.RoleUser}
		if email == adminEmail {
			u.Role = user.RoleAdmin
		}
		if err := db.CreateUser(ctx, u); err != nil {
			return res, fmt.Errorf("seed: %w", err)
		}
		ids[email] = u.ID
	}
	sqldb := db.SQL()
	pg := db.Dialect() == store.DialectPostgres
	res.BulkUsers = sz.Users - len(ids)
	if err := seedUsers(ctx, sqldb, pg, res.BulkUsers, sharedHash); err != nil {
		return res, err
	}
	if err := sqldb.QueryRowContext(ctx, "SELECT min(id) FROM users WHERE email_key LIKE 'user%'").Scan(&res.FirstBulkID); err != nil {
		return res, fmt.Errorf("seed: first bulk id: %w", err)
	}

	tmpl := ids[templateEmail]
	okID, err := insertTemplate(ctx, db, audit.Event{Type: audit.LoginSucceeded, ActorID: tmpl, SubjectID: tmpl,
		Email: templateEmail, IP: "192.0.2.10", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
	if err != nil {
		return res, err
	}
	failedID, err := insertTemplate(ctx, db, audit.Event{Type: audit.LoginFailed, SubjectID: tmpl,
		Email: templateEmail, IP: "198.51.100.7", UserAgent: "curl/8.5.0", Detail: "wrong password"})
	if err != nil {
		return res, err
	}
	cols, err := templateColumns(ctx, sqldb, pg, okID, tmpl)
	if err != nil {
		return res, err
	}
	bulkEvents := sz.Events - readerEvents - sz.HeavyEvents
	batches := []struct {
		n      int
		owner  string // SQL expression of the owning user's ID (n is the row number)
		offset int    // seconds back in time of row 1
	}{
		{readerEvents, fmt.Sprint(ids[readerEmail]), 0},
		{sz.HeavyEvents, fmt.Sprint(ids[heavyEmail]), 0},
		{bulkEvents, fmt.Sprintf("(%d + n %% %d)", res.FirstBulkID, res.BulkUsers), 0},
	}
	now := time.Now().Unix()
	for _, b := range batches {
		if b.n <= 0 {
			continue
		}
		if err := copyEvents(ctx, sqldb, pg, cols, okID, failedID, b.owner, b.n, now); err != nil {
			return res, err
		}
	}
	if pg {
		if _, err := sqldb.ExecContext(ctx, "ANALYZE"); err != nil {
			return res, fmt.Errorf("seed: analyze: %w", err)
		}
	}
	return res, nil
}

// seedUsers inserts n bulk accounts user1@bench.example … in one statement.
func seedUsers(ctx context.Context, db *sql.DB, pg bool, n int, hash string) error {
	q := `WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
		INSERT INTO users (email, email_key, name, password_hash)
		SELECT 'user' || n || '@bench.example', 'user' || n || '@bench.example', 'User ' || n, ? FROM seq`
	if pg {
		q = `INSERT INTO users (email, email_key, name, password_hash)
		SELECT 'user' || n || '@bench.example', 'user' || n || '@bench.example', 'User ' || n, $2
		FROM generate_series(1, $1::int) AS n`
	}
	if _, err := db.ExecContext(ctx, q, n, hash); err != nil {
		return fmt.Errorf("seed: users: %w", err)
	}
	return nil
}

func insertTemplate(ctx context.Context, db *store.DB, e audit.Event) (int64, error) {
	if err := db.InsertAuditEvent(ctx, &e); err != nil {
		return 0, fmt.Errorf("seed: template event: %w", err)
	}
	return e.ID, nil
}

// column is one audit_events column and how copies fill it.
type column struct {
	name    string
	isOwner bool // holds the template account's ID: rewritten to the new owner
}

// templateColumns lists audit_events' columns except id, marking those
// whose value in template row id is the template account's ID.
func templateColumns(ctx context.Context, db *sql.DB, pg bool, id, tmplUser int64) ([]column, error) {
	dialect := store.DialectSQLite
	if pg {
		dialect = store.DialectPostgres
	}
	rows, err := db.QueryContext(ctx, sqldialect.Rebind(dialect, "SELECT * FROM audit_events WHERE id = ?"), id)
	if err != nil {
		return nil, fmt.Errorf("seed: template columns: %w", err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("seed: template columns: %w", err)
	}
	if !rows.Next() {
		return nil, errors.New("seed: template event not found")
	}
	vals := make([]sql.NullInt64, len(names))
	ptrs := make([]any, len(names))
	for i := range names {
		ptrs[i] = &anyInt{&vals[i]}
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("seed: template columns: %w", err)
	}
	var cols []column
	for i, n := range names {
		if n == "id" {
			continue
		}
		owner := strings.HasSuffix(n, "_id") && vals[i].Valid && vals[i].Int64 == tmplUser
		cols = append(cols, column{name: n, isOwner: owner})
	}
	return cols, rows.Err()
}

// anyInt scans any column, keeping its value only when it is an integer.
type anyInt struct{ v *sql.NullInt64 }

func (a *anyInt) Scan(src any) error {
	if n, ok := src.(int64); ok {
		*a.v = sql.NullInt64{Int64: n, Valid: true}
	}
	return nil
}

// copyEvents inserts n copies of the template rows (every fifth a failed
// login, the rest successful ones) owned by the user whose ID the SQL
// expression owner gives, one second apart going back from now.
func copyEvents(ctx context.Context, db *sql.DB, pg bool, cols []column, okID, failedID int64, owner string, n int, now int64) error {
	names := make([]string, len(cols))
	exprs := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		switch {
		case c.name == "time" && pg:
			exprs[i] = fmt.Sprintf("to_timestamp(%d - n)", now)
		case c.name == "time":
			exprs[i] = fmt.Sprintf("(%d - n)", now)
		case c.isOwner:
			exprs[i] = owner
		default:
			exprs[i] = "t." + c.name
		}
	}
	tmpl := fmt.Sprintf("CASE WHEN n %% 5 = 0 THEN %d ELSE %d END", failedID, okID)
	seq := fmt.Sprintf("WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %d) ", n)
	from := "seq"
	if pg {
		seq, from = "", fmt.Sprintf("generate_series(1, %d) AS n", n)
	}
	q := fmt.Sprintf("%sINSERT INTO audit_events (%s) SELECT %s FROM %s JOIN audit_events t ON t.id = %s",
		seq, strings.Join(names, ", "), strings.Join(exprs, ", "), from, tmpl)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: events: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("seed: events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed: events: %w", err)
	}
	return nil
}

// seedSessions creates n active sessions in the Redis at redisURL under
// prefix, for the bulk accounts in turn, through the session package's own
// Manager.Login and RedisStore (so keys and indexes are exactly what a
// browser sign-in writes), from 250 × 7 client IPs, 8 at a time.
func seedSessions(ctx context.Context, redisURL, prefix string, n int, s seeded) error {
	// The bench's own throwaway Redis: no AUTH, no TLS, only a database.
	r, err := config.ParseRedisURL(redisURL)
	if err != nil {
		return err
	}
	pool := redisconn.NewPool(r.Addr, 5*time.Second, redis.DialDatabase(r.DB))
	defer pool.Close()
	var failed atomic.Value
	mgr := session.NewManager(session.Options{
		Store:       session.NewRedisStore(pool, prefix, 5*time.Second),
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) { failed.Store(err) },
	})
	login := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var uid int64
		fmt.Sscan(r.Header.Get("X-Bench-User"), &uid)
		if err := mgr.Login(r.Context(), uid, false); err != nil {
			failed.Store(err)
		}
	}))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil && failed.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/login", nil)
				req.RemoteAddr = fmt.Sprintf("10.0.%d.%d:40000", i%7, i%250)
				req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
				req.Header.Set("X-Bench-User", fmt.Sprint(s.FirstBulkID+int64(i%s.BulkUsers)))
				login.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return fmt.Errorf("seed: sessions: %w", err)
	}
	return ctx.Err()
}
