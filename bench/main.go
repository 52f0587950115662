// Command bench is `make bench`: it runs Latch on Redis + SQLite and on
// Redis + PostgreSQL next to a reference server (net/http + one redigo GET
// + a page of the same size), all on loopback, drives each with closed-loop
// load from vegeta (used as a library) in interleaved rounds after a
// warm-up, and prints one table with each of issue 7's targets met or not,
// also written as JSON under bench/out/.
//
// Everything it starts is throwaway: one redis-server per server under test
// (so INFO commandstats counts only that server's commands), a fresh
// PostgreSQL schema (dropped at the end), an SQLite file in a temp dir.
// Everything is stopped on exit, on error and on Ctrl-C; every loop is
// bounded in count and in time, and the whole run by -timeout.
//
// Usage: go run ./bench [-quick] [-latch bin/latch] [-light-path /account] …
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
)

// options are the command-line flags.
type options struct {
	quick      bool
	latchBin   string
	lightPath  string
	pgURL      string
	outDir     string
	conns      int
	adminConns int
	rounds     int
	round      time.Duration
	warmup     time.Duration
	steady     time.Duration
	timeout    time.Duration
	reqTimeout time.Duration
	dbMaxConns string
	keep       bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-reference-serve" {
		if err := referenceMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "reference:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.BoolVar(&o.quick, "quick", false, "short rounds and small seeds, for development (about 2 minutes)")
	flag.StringVar(&o.latchBin, "latch", "", "Latch binary to run (default: go build ./cmd/latch into a temp dir)")
	flag.StringVar(&o.lightPath, "light-path", "/account", "signed-in page whose data comes from the session alone; /account/password is used when it answers 404")
	flag.StringVar(&o.pgURL, "pg", cmp.Or(os.Getenv("LATCH_TEST_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL to create a throwaway schema in (default $LATCH_TEST_DATABASE_URL, as scripts/test-env.sh exports it)")
	flag.StringVar(&o.outDir, "out", "bench/out", "directory for the JSON table")
	flag.IntVar(&o.conns, "conns", 64, "connections of the closed-loop load")
	flag.IntVar(&o.adminConns, "admin-conns", 4, "connections of the admin-page rows (a few administrators at once, not 64)")
	flag.IntVar(&o.rounds, "rounds", 0, "interleaved rounds per scenario (default 3, quick 2)")
	flag.DurationVar(&o.round, "round", 0, "length of one round (default 3s, quick 1s)")
	flag.DurationVar(&o.warmup, "warmup", 0, "warm-up per scenario before the rounds (default 2s, quick 500ms)")
	flag.DurationVar(&o.steady, "steady", 0, "length of the steady run that counts new DB connections (default 30s, quick 3s)")
	flag.DurationVar(&o.timeout, "timeout", 9*time.Minute+30*time.Second, "bound on the whole run; what was measured is still printed")
	flag.DurationVar(&o.reqTimeout, "request-timeout", 5*time.Second, "a request without an answer after this long counts as an error")
	flag.StringVar(&o.dbMaxConns, "db-max-conns", "", "LATCH_DATABASE_MAX_CONNS for the Latch servers (default: Latch's own)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (logs, SQLite file) for inspection")
	flag.Parse()
	def := func(d *time.Duration, full, quick time.Duration) {
		if *d == 0 {
			*d = full
			if o.quick {
				*d = quick
			}
		}
	}
	def(&o.round, 3*time.Second, time.Second)
	def(&o.warmup, 2*time.Second, 500*time.Millisecond)
	def(&o.steady, 30*time.Second, 3*time.Second)
	if o.rounds == 0 {
		o.rounds = 3
		if o.quick {
			o.rounds = 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// server is one server under load: a Latch instance or the reference.
type server struct {
	label    string // "latch-sqlite", "reference", …
	proc     *proc
	base     string // http://127.0.0.1:port
	metrics  string // Prometheus URL ("" for the reference)
	redisURL string
	cookies  map[string]string // email → session token
	// tripCookies are one session per connection (bulk accounts) for the
	// Redis round-trip row.
	tripCookies []string
	seed        seeded
}

// env is everything a run has started, for cleanup.
type env struct {
	dir     string
	procs   []*proc
	cleanup []func()
	log     io.Writer
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// close stops every process in reverse start order and runs the cleanups.
func (e *env) close(keep bool) {
	for i := len(e.procs) - 1; i >= 0; i-- {
		e.procs[i].stop()
	}
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
	if keep {
		e.logf("kept %s", e.dir)
		return
	}
	os.RemoveAll(e.dir)
}

// run builds Latch (unless -latch names a binary), starts the stores and
// servers, seeds, signs in, measures, and prints the table to stdout and
// as JSON to o.outDir; progress goes to stderr. Everything it started is
// stopped and removed before it returns. When ctx ends early the rows
// measured so far are still printed and ctx's error is returned.
func run(ctx context.Context, o options, stdout io.Writer) error {
	sz := fullSizes
	mode := "full"
	if o.quick {
		sz, mode = quickSizes, "quick"
	}
	dir, err := os.MkdirTemp("", "latch-bench-")
	if err != nil {
		return err
	}
	e := &env{dir: dir, log: os.Stderr}
	defer e.close(o.keep)
	started := time.Now()

	if o.latchBin == "" {
		o.latchBin = filepath.Join(dir, "latch")
		e.logf("go build -o %s ./cmd/latch", o.latchBin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", o.latchBin, "./cmd/latch")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build latch: %w", err)
		}
	}
	if o.latchBin, err = filepath.Abs(o.latchBin); err != nil {
		return err
	}

	// Stores: one Redis per server under test, a PostgreSQL schema, an SQLite file.
	redisFor := map[string]string{}
	for _, label := range []string{"redis-sqlite", "redis-pg", "redis-reference"} {
		p, u, err := startRedis(ctx, dir, label)
		if err != nil {
			return err
		}
		e.procs = append(e.procs, p)
		redisFor[label] = u
	}
	pgURL, dropSchema, err := createSchema(ctx, o.pgURL)
	if err != nil {
		return err
	}
	e.cleanup = append(e.cleanup, dropSchema)
	sqliteURL := "sqlite:" + filepath.Join(dir, "latch.db")

	// Seed both databases and both session stores.
	e.logf("seeding (%s): %d users, %d events (%d for one user), %d sessions per Redis", mode, sz.Users, sz.Events, sz.HeavyEvents, sz.Sessions)
	hasher := password.NewHasher(password.DefaultParams(), 0, 0)
	shared, err := hasher.Hash(ctx, benchPassword)
	if err != nil {
		return err
	}
	const prefix = session.DefaultRedisPrefix
	type backend struct {
		label, dbURL, redis string
	}
	backends := []backend{{"latch-sqlite", sqliteURL, redisFor["redis-sqlite"]}, {"latch-pg", pgURL, redisFor["redis-pg"]}}
	// Both at once: PostgreSQL's work happens in its server, SQLite's here.
	seeds := make([]seeded, len(backends))
	errs := make([]error, len(backends))
	var wg sync.WaitGroup
	for i, b := range backends {
		wg.Go(func() {
			t0 := time.Now()
			s, err := seedDB(ctx, b.dbURL, sz, hasher, shared)
			if err == nil {
				err = seedSessions(ctx, b.redis, prefix, sz.Sessions, s)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", b.label, err)
				return
			}
			seeds[i] = s
			e.logf("seeded %s in %v", b.label, time.Since(t0).Round(100*time.Millisecond))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// Latch servers. latch-sqlite-open shares latch-sqlite's database and
	// Redis (so the same cookies work) with login throttling off, for the
	// login-throughput and login-flood rows only.
	start := func(label, dbURL, redisURL string, extra ...string) (*server, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		mport, err := freePort()
		if err != nil {
			return nil, err
		}
		envv := []string{
			"LATCH_ADDR=127.0.0.1:" + strconv.Itoa(port),
			"LATCH_DATABASE_URL=" + dbURL,
			"LATCH_REDIS_URL=" + redisURL,
			"LATCH_REDIS_KEY_PREFIX=" + prefix,
			"LATCH_COOKIE_SECURE=false",
			"LATCH_LOG_LEVEL=warn", // no per-request log lines: the reference writes none either
			"LATCH_METRICS_ADDR=127.0.0.1:" + strconv.Itoa(mport),
			"LATCH_SHUTDOWN_DRAIN=0", // no balancer to wait for (waitHTTP asks /readyz)
		}
		if o.dbMaxConns != "" {
			envv = append(envv, "LATCH_DATABASE_MAX_CONNS="+o.dbMaxConns)
		}
		envv = append(envv, extra...)
		p, err := startProc(dir, label, envv, o.latchBin, "serve")
		if err != nil {
			return nil, err
		}
		e.procs = append(e.procs, p)
		s := &server{label: label, proc: p, base: "http://127.0.0.1:" + strconv.Itoa(port),
			metrics: "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics", redisURL: redisURL, cookies: map[string]string{}}
		return s, waitHTTP(ctx, p, s.base+"/readyz", 30*time.Second)
	}
	sqliteSrv, err := start("latch-sqlite", sqliteURL, redisFor["redis-sqlite"])
	if err != nil {
		return err
	}
	pgSrv, err := start("latch-pg", pgURL, redisFor["redis-pg"])
	if err != nil {
		return err
	}
	openSrv, err := start("latch-sqlite-open", sqliteURL, redisFor["redis-sqlite"],
		"LATCH_THROTTLE_ACCOUNT=off", "LATCH_THROTTLE_ACCOUNT_IP=off", "LATCH_THROTTLE_IP=off")
	if err != nil {
		return err
	}
	sqliteSrv.seed, pgSrv.seed, openSrv.seed = seeds[0], seeds[1], seeds[0]

	// Sign in through the real form.
	for _, s := range []*server{sqliteSrv, pgSrv} {
		for _, email := range []string{readerEmail, heavyEmail, emptyEmail, adminEmail} {
			tok, err := signIn(ctx, s.base, email, benchPassword)
			if err != nil {
				return fmt.Errorf("%s: %w", s.label, err)
			}
			s.cookies[email] = tok
		}
	}
	openSrv.cookies = sqliteSrv.cookies
	// One more session per connection, for the round-trip count: by the
	// time it runs each is past its refresh interval, so the count includes
	// one idle refresh per session, as 64 people browsing would cause.
	for _, s := range []*server{sqliteSrv, pgSrv} {
		if s.tripCookies, err = signInMany(ctx, s.base, o.conns, tripAccountOffset, s.seed); err != nil {
			return fmt.Errorf("%s: %w", s.label, err)
		}
	}

	lightPath, err := pickLightPath(ctx, sqliteSrv, o.lightPath)
	if err != nil {
		return err
	}
	profileSize, err := pageSize(ctx, sqliteSrv.base+"/profile", sqliteSrv.cookies[readerEmail])
	if err != nil {
		return err
	}

	// The reference server: this binary in -reference-serve mode.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rport, err := freePort()
	if err != nil {
		return err
	}
	rp, err := startProc(dir, "reference", nil, self, "-reference-serve",
		"-addr", "127.0.0.1:"+strconv.Itoa(rport), "-redis", redisFor["redis-reference"], "-size", strconv.Itoa(profileSize))
	if err != nil {
		return err
	}
	e.procs = append(e.procs, rp)
	ref := &server{label: "reference", proc: rp, base: "http://127.0.0.1:" + strconv.Itoa(rport),
		redisURL: redisFor["redis-reference"], cookies: map[string]string{}}
	if err := waitHTTP(ctx, rp, ref.base+"/healthz", 15*time.Second); err != nil {
		return err
	}
	refToken := rand.Text()
	if err := seedReferenceSession(ctx, ref.redisURL, refToken); err != nil {
		return err
	}
	ref.cookies[readerEmail] = refToken
	e.logf("ready after %v: light page %s, /profile %d bytes", time.Since(started).Round(time.Second), lightPath, profileSize)

	b := &bench{o: o, e: e, sz: sz, ref: ref, sqlite: sqliteSrv, pg: pgSrv, open: openSrv, lightPath: lightPath}
	rows := b.measure(ctx)

	m := thisMachine(mode, sz, o.conns, o.round, o.rounds)
	m.Notes = fmt.Sprintf("light page: %s; /profile and the reference page: %d bytes; Latch logs at warn; whole run %v.",
		lightPath, profileSize, time.Since(started).Round(time.Second))
	if ctx.Err() != nil {
		m.Notes += " STOPPED EARLY (" + context.Cause(ctx).Error() + "): rows after that point are missing or partial."
	}
	printTable(stdout, m, rows)
	path, err := writeJSON(o.outDir, m, rows)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten to %s\n", path)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// createSchema makes a fresh schema latch_bench_<hex> at baseURL and
// returns a URL whose search_path is that schema, and a func dropping it.
func createSchema(ctx context.Context, baseURL string) (string, func(), error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", nil, errors.New("-pg is not a URL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "latch_bench_" + hex.EncodeToString(b)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, baseURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(cctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		// The run's context may be over: use a fresh one.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, baseURL)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", schema, err)
		}
	}
	return u.String(), drop, nil
}

// noRedirect is a client for set-up requests that returns redirects as they are.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// signIn submits the login form as a same-origin browser would and returns
// the session token from the latch_session cookie.
func signIn(ctx context.Context, base, email, pw string) (string, error) {
	form := url.Values{"email": {email}, "password": {pw}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirect.Do(req)
	if err != nil {
		return "", fmt.Errorf("sign in %s: %w", email, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("sign in %s: status %s, want 303", email, resp.Status)
	}
	for _, c := range resp.Cookies() {
		if c.Name == referenceCookie && c.Value != "" {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("sign in %s: no %s cookie", email, referenceCookie)
}

// tripAccountOffset is the first bulk account signInMany uses (the login
// rows use others, so none of their sign-ins touches these sessions).
const tripAccountOffset = 9000

// signInMany signs in n distinct bulk accounts from offset, 4 at a time,
// and returns their session tokens.
func signInMany(ctx context.Context, base string, n, offset int, s seeded) ([]string, error) {
	toks := make([]string, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				toks[i], errs[i] = signIn(ctx, base, bulkEmail((offset+i)%s.BulkUsers+1), benchPassword)
			}
		})
	}
	wg.Wait()
	return toks, errors.Join(append(errs, ctx.Err())...)
}

// fetch GETs url with the session cookie and returns status and body.
func fetch(ctx context.Context, url, token string) (int, []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.AddCookie(&http.Cookie{Name: referenceCookie, Value: token})
	resp, err := noRedirect.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, body, err
}

// pageSize returns the size in bytes of the signed-in page at url.
func pageSize(ctx context.Context, url, token string) (int, error) {
	code, body, err := fetch(ctx, url, token)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d", url, code)
	}
	return len(body), nil
}

// pickLightPath returns path when it answers 200 for a signed-in user, or
// /account/password when path answers 404 (GET /account is being added).
func pickLightPath(ctx context.Context, s *server, path string) (string, error) {
	for _, p := range []string{path, "/account/password"} {
		code, _, err := fetch(ctx, s.base+p, s.cookies[readerEmail])
		if err != nil {
			return "", err
		}
		switch code {
		case http.StatusOK:
			return p, nil
		case http.StatusNotFound:
			continue
		default:
			return "", fmt.Errorf("GET %s: status %d", p, code)
		}
	}
	return "", fmt.Errorf("neither %s nor /account/password answers 200", path)
}
