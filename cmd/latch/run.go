package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/metrics"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/server"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/web"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // bad arguments or configuration
)

const usage = `Latch signs people in with server-side sessions.

Usage:
  latch serve                 run the web server
  latch migrate               apply database migrations
  latch user create --email E [--name N] [--admin] --password-stdin
                              create a user (password read from standard input)
  latch user disable|enable EMAIL
  latch user set-role EMAIL admin|user
  latch user reset-link EMAIL [--base-url URL]
                              print a one-time password reset link (30 minutes)
  latch sessions list [--user EMAIL] [--json]
  latch sessions revoke HANDLE | --user EMAIL
  latch healthcheck [--url U] [--timeout D]
                              exit 0 when a running server answers 200 (container health checks)
  latch version               print the version

Configuration comes from LATCH_* environment variables; see README.md.
Run "latch COMMAND --help" for a command's flags.
`

// run is the whole program; main only supplies the process's environment.
// It returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(ctx, rest, getenv, stderr)
	case "migrate":
		err = cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "user":
		err = cmdUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "sessions":
		err = cmdSessions(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		err = cmdHealthcheck(ctx, rest, stderr) // serve_healthcheck.go
	case "version", "--version":
		err = cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "latch: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "latch %s: %s\n", cmd, errorText(err))
	return exitStatus(err)
}

// errorText is what the latch command prints for a command's error: its
// text, after a plain sentence when it is a revocation (or the hold of an
// account change) that no Redis replica confirmed (session.ErrNotReplicated),
// whose error chain reads as Redis internals.
func errorText(err error) string {
	if errors.Is(err, session.ErrNotReplicated) {
		return "could not confirm that a second Redis server has this change, so it may not have taken effect; try again in a few seconds (" + err.Error() + ")"
	}
	return err.Error()
}

// exitStatus is the exit status for a command's error, by its kind
// (internal/fail): fail.Invalid (bad arguments or configuration:
// usageError) is exitUsage; every other kind (not found, unavailable, …)
// is exitError.
func exitStatus(err error) int {
	if fail.KindOf(err) == fail.Invalid {
		return exitUsage
	}
	return exitError
}

// usageError marks errors the operator must fix in arguments or
// configuration: of kind fail.Invalid (exit status 2), whatever the kind
// of the error it holds.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return fail.Wrap(fail.Invalid, e.err, "") }

func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: latch %s\n\n", help)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func loadConfig(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// app is Latch wired together: database, session store, server.
type app struct {
	cfg      config.Config
	log      *slog.Logger
	db       *store.DB
	pool     redisPool     // nil with the embedded session store
	sessions session.Store // Redis or embedded; also the registry the sweeper prunes
	server   *server.Server
	metrics  *prometheus.Registry // served on LATCH_METRICS_ADDR only (serveMetrics)
}

// newApp opens the database and the session store, builds every
// dependency of the server and the server itself. clock is nil outside
// tests. Close releases everything.
func newApp(ctx context.Context, cfg config.Config, log *slog.Logger, params password.Params, clock func() time.Time) (*app, error) {
	a, scfg, err := openApp(ctx, cfg, log, params, clock)
	if err != nil {
		return nil, err
	}
	if err := a.startServer(scfg); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// openApp is the first half of newApp, and all of Latch's wiring: it opens
// the database, the Redis pool (openRedis) and the session store (which is
// also the session registry), builds the session manager, the login
// throttle and the password hasher, and returns the server's configuration
// made of them, for startServer. (Tests change the configuration in
// between; production does not.) On error nothing is left open; otherwise
// the caller closes a.
func openApp(ctx context.Context, cfg config.Config, log *slog.Logger, params password.Params, clock func() time.Time) (*app, server.Config, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, store.WithMaxConns(cfg.DatabaseMaxConns))
	if err != nil {
		return nil, server.Config{}, err
	}
	a := &app{cfg: cfg, log: log, db: db}
	rec := metrics.NewRecorder()
	sessions, pool, err := openSessionStore(cfg, db, rec)
	if err != nil {
		a.Close()
		return nil, server.Config{}, err
	}
	a.pool, a.sessions = pool, sessions
	hasher := password.NewHasher(params, 0, 0)
	hasher.ObserveWaits(rec.HashWait)
	src := metrics.Sources{DB: db, Hashes: hasher, Recorder: rec}
	if pool != nil {
		src.Redis = pool
	}
	a.metrics = metrics.New(src)
	if pool != nil {
		log.Info("session store: redis", "addr", redisAddr(cfg))
	} else {
		log.Warn("session store: embedded in the SQL database; run a single instance only, or set LATCH_REDIS_URL")
	}
	limiter, err := openLimiter(cfg, pool, rec, clock)
	if err != nil {
		a.Close()
		return nil, server.Config{}, err
	}
	log.Info("login throttling", "account", cfg.Throttle.Account.String(), "account_ip", cfg.Throttle.AccountIP.String(),
		"ip", cfg.Throttle.IP.String(), "register", cfg.Throttle.Register.String(), "known_ip_window", cfg.KnownIPWindow.String())
	scfg := server.Config{
		// Every account operation, on the same stores, session store,
		// hasher, clock and log as the site; new passwords judged in the
		// default bounded pool (user.StrengthOptions).
		Accounts:  accountService(db, sessions, hasher, user.NewStrengthChecker(user.StrengthOptions{}), clock, log, rec),
		Log:       log,
		Users:     db,
		Audit:     db,
		Passwords: hasher,
		Metrics:   rec,
		Sessions:  sessionManager(cfg, sessions, clock),
		Templates: web.Templates,
		Static:    web.Static,
		Clock:     clock,
		Health:    a.health,

		ReadyTimeout:   cfg.ReadyTimeout,
		TrustedProxies: cfg.TrustedProxies,
		ReauthWindow:   cfg.ReauthWindow,
		APICORSOrigins: cfg.API.CORSOrigins,
		OpenAPI:        web.OpenAPI,
		Devices:        db,
		Throttle:       server.Throttle{Limiter: limiter, History: db, KnownIPWindow: cfg.KnownIPWindow},
		Resets:         db,
		Overview:       db,
	}
	return a, scfg, nil
}

// sessionManager returns the session manager on st with the configured
// timeouts (LATCH_IDLE_TIMEOUT, LATCH_ABSOLUTE_TIMEOUT and their remember-me
// forms), cookie security (LATCH_COOKIE_SECURE) and per-user session limit
// (LATCH_MAX_SESSIONS_PER_USER). clock (nil = time.Now) must be the
// server's Config.Clock. The server mounts it with its own error pages.
func sessionManager(cfg config.Config, st session.Store, clock func() time.Time) *session.Manager {
	return session.NewManager(session.Options{
		Store:                   st,
		IdleTimeout:             cfg.IdleTimeout,
		AbsoluteTimeout:         cfg.AbsoluteTimeout,
		RememberIdleTimeout:     cfg.RememberIdleTimeout,
		RememberAbsoluteTimeout: cfg.RememberAbsoluteTimeout,
		APIIdleTimeout:          cfg.API.IdleTimeout,
		APIAbsoluteTimeout:      cfg.API.AbsoluteTimeout,
		Secure:                  cfg.CookieSecure,
		MaxSessionsPerUser:      cfg.MaxSessionsPerUser,
		Clock:                   clock,
	})
}

// startServer is the second half of newApp: it builds a.server from scfg.
func (a *app) startServer(scfg server.Config) error {
	srv, err := server.New(scfg)
	if err != nil {
		return err
	}
	a.server = srv
	return nil
}

// openLimiter returns the login and registration throttle: its counters
// live in Redis under LATCH_REDIS_KEY_PREFIX + "t:" when pool is set (shared
// by every instance), else in this process (the embedded mode is one
// instance anyway). Redis command errors are counted in rec. clock is nil
// outside tests.
func openLimiter(cfg config.Config, pool redisPool, rec *metrics.Recorder, clock func() time.Time) (*throttle.Limiter, error) {
	if pool == nil {
		return throttle.NewMemory(cfg.Throttle, 0, clock)
	}
	return throttle.NewRedis(metrics.CountRedisErrors(pool, rec), cfg.RedisKeyPrefix+"t:", cfg.RedisTimeout, cfg.Throttle)
}

// openDB loads the configuration and opens the database it names; the
// caller closes the database. Configuration errors are usage errors.
func openDB(ctx context.Context, getenv func(string) string) (config.Config, *store.DB, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return cfg, nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, store.WithMaxConns(cfg.DatabaseMaxConns))
	return cfg, db, err
}

// openMigratedDB is openDB for the commands that read and write accounts
// and sessions: it also refuses a database whose schema is not up to date
// (store.ErrSchemaOutdated: "run `latch migrate` first") rather than fail
// later on a missing table.
func openMigratedDB(ctx context.Context, getenv func(string) string) (config.Config, *store.DB, error) {
	cfg, db, err := openDB(ctx, getenv)
	if err != nil {
		return cfg, nil, err
	}
	if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return cfg, nil, err
	}
	return cfg, db, nil
}

// openSessionStore returns the session store the configuration names:
// Redis when LATCH_REDIS_URL or LATCH_REDIS_SENTINELS is set (a pool from
// openRedis, then non-nil; the caller closes it), else the embedded store
// in db. The store is also the session registry (session.Store embeds
// session.Registry). With Redis, db is also told to keep the account
// state copies beside the sessions right on every change
// (store.DB.SetUserStateCache): the server, the CLI and reset links all
// open their stores here, so none of them can change an account without
// updating its copy. rec, when set (serve), counts the store's Redis
// command errors and Sentinel's changes of master. In Sentinel mode the
// store requires a replica for every revocation (RedisStore.RequireReplica).
func openSessionStore(cfg config.Config, db *store.DB, rec *metrics.Recorder) (st session.Store, pool redisPool, err error) {
	var topo redisconn.TopologyObserver
	if rec != nil {
		topo = rec
	}
	pool, err = openRedis(cfg, topo)
	if err != nil {
		return nil, nil, err
	}
	if pool == nil {
		return session.NewSQLStore(db.SQL(), db.Dialect(), 2*time.Second), nil, nil
	}
	var src redisconn.Source = pool
	if rec != nil {
		src = metrics.CountRedisErrors(pool, rec)
	}
	// Sentinel mode has replicas by definition: with none connected, a
	// revocation fails instead of living on the master only. A cluster
	// master without replicas is a normal small deployment: not required.
	rs := session.NewRedisStore(src, cfg.RedisKeyPrefix, cfg.RedisTimeout).
		RequireReplica(cfg.RedisSentinel.Enabled())
	db.SetUserStateCache(rs)
	return rs, pool, nil
}

// health pings the database and, when configured, Redis.
func (a *app) health(ctx context.Context) error {
	if err := a.db.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return a.pingRedis(ctx)
}

// pingRedis sends PING to Redis within 2 seconds; nil without Redis.
func (a *app) pingRedis(ctx context.Context) error {
	if a.pool == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Through redisconn.Do like every other Redis call: after a Redis
	// restart the pool's idle connections are dead, and a health check
	// that borrowed them one by one answered 503 once for each while the
	// site had already recovered.
	if _, err := redisconn.Do(ctx, a.pool, func(conn redis.Conn) (any, error) {
		return redis.DoContext(conn, ctx, "PING")
	}); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close releases the database and the Redis pool.
func (a *app) Close() {
	if a.pool != nil {
		a.pool.Close()
	}
	a.db.Close()
}

// passwordParams turns the configured argon2id cost (config.Argon2, from
// LATCH_ARGON2_MEMORY in KiB, LATCH_ARGON2_TIME in passes and
// LATCH_ARGON2_PARALLELISM in lanes, already range-checked by config.Load)
// into password.Params with the default salt and key lengths. An error
// means config's ranges and password's limits disagree (a bug, not a
// setting: TestArgon2RangesMatchPassword).
func passwordParams(a config.Argon2) (password.Params, error) {
	p := password.DefaultParams()
	p.Memory, p.Iterations, p.Parallelism = a.MemoryKiB, a.Time, a.Parallelism
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("config: LATCH_ARGON2_MEMORY, LATCH_ARGON2_TIME, LATCH_ARGON2_PARALLELISM: %w", err)
	}
	return p, nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve\n\nRuns the web server. Settings come from LATCH_* environment variables (see README.md);\nrun \"latch migrate\" first.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	params, err := passwordParams(cfg.Argon2)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	a, err := newApp(ctx, cfg, log, params, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.db.CheckSchema(ctx); err != nil {
		return err
	}
	if err := a.pingRedis(ctx); err != nil {
		// Only logged: anonymous pages work meanwhile, and Latch recovers by
		// itself when Redis comes back.
		log.Error("redis is not usable at start; pages that need a session will answer 503 until it is",
			"addr", redisAddr(cfg), "err", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stop, err := a.serveMetrics(cfg.MetricsAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	go session.RunSweeper(ctx, a.sessions, 5*time.Minute, log)
	return a.serve(ctx, ln, log) // serve.go: graceful shutdown
}

// serveMetrics serves the Prometheus metrics (GET /metrics) on their own
// listener at addr (LATCH_METRICS_ADDR), apart from the public one so that
// they can be kept off the internet, and logs "metrics listening" with the
// address. stop closes the listener and its connections.
func (a *app) serveMetrics(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{
		Handler:           metrics.Handler(a.metrics),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.log.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics listener stopped", "err", err)
		}
	}()
	return func() { _ = srv.Close() }, nil
}

// cmdVersion prints "latch VERSION" on stdout; with --help (or -h) it
// prints its usage on stderr instead, like every other command.
func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version\n\nPrints the version of this latch binary.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "latch %s\n", version)
	return nil
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate\n\nApplies the embedded database migrations to LATCH_DATABASE_URL; running it again does nothing.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, db, err := openDB(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func cmdUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "disable" || args[0] == "enable" || args[0] == "set-role") {
		return cmdUserAdmin(ctx, args[0], args[1:], getenv, stdout, stderr) // cli_admin.go
	}
	if len(args) > 0 && args[0] == "reset-link" {
		return cmdUserResetLink(ctx, args[1:], getenv, stdout, stderr) // cli_reset.go
	}
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprint(stdout, userUsage)
			return nil
		}
		return usageError{errors.New(`want "user create|disable|enable|set-role|reset-link ..."; see "latch user --help"`)}
	}
	return cmdUserCreate(ctx, args[1:], getenv, stdin, stdout, stderr) // cli_admin.go
}
