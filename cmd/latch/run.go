package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/config"
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
	case "version", "--version":
		err = cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "latch: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	var uerr usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "latch %s: %v\n", cmd, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "latch %s: %v\n", cmd, err)
		return exitError
	}
}

// usageError marks errors the operator must fix in arguments or
// configuration (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

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
	cfg     config.Config
	log     *slog.Logger
	db      *store.DB
	pool    redisConns // nil with the embedded session store
	server  *server.Server
	metrics *prometheus.Registry // served on LATCH_METRICS_ADDR only (serveMetrics)
}

// newApp opens the database and the session store and builds the server.
// clock is nil outside tests. Close releases everything.
func newApp(ctx context.Context, cfg config.Config, log *slog.Logger, params password.Params, clock func() time.Time,
	testHooks ...func(*server.Config)) (*app, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, store.WithMaxConns(cfg.DatabaseMaxConns))
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db}
	sessions, pool, err := openSessionStore(cfg, db)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.pool = pool
	src := metrics.Sources{DB: db}
	if pool != nil {
		src.Redis = pool
	}
	a.metrics = metrics.New(src)
	if len(cfg.RedisCluster) > 0 {
		log.Info("session store: redis cluster", "nodes", strings.Join(cfg.RedisCluster, ","))
	} else if pool != nil {
		log.Info("session store: redis", "addr", redisHost(cfg.RedisURL))
	} else {
		log.Warn("session store: embedded in the SQL database; run a single instance only, or set LATCH_REDIS_URL")
	}
	limiter, err := openLimiter(cfg, pool, clock)
	if err != nil {
		a.Close()
		return nil, err
	}
	log.Info("login throttling", "account", cfg.Throttle.Account.String(), "account_ip", cfg.Throttle.AccountIP.String(),
		"ip", cfg.Throttle.IP.String(), "register", cfg.Throttle.Register.String(), "known_ip_window", cfg.KnownIPWindow.String())
	scfg := server.Config{
		Log:       log,
		Users:     db,
		Audit:     db,
		Passwords: password.NewHasher(params, 0, 0),
		Sessions: session.Options{
			Store:                   sessions,
			IdleTimeout:             cfg.IdleTimeout,
			AbsoluteTimeout:         cfg.AbsoluteTimeout,
			RememberIdleTimeout:     cfg.RememberIdleTimeout,
			RememberAbsoluteTimeout: cfg.RememberAbsoluteTimeout,
			Secure:                  cfg.CookieSecure,
		},
		Templates: web.Templates,
		Static:    web.Static,
		Clock:     clock,
		Health:    a.health,

		DatabaseUnavailable: store.Unavailable,
		TrustedProxies:      cfg.TrustedProxies,
		MaxSessionsPerUser:  cfg.MaxSessionsPerUser,
		ReauthWindow:        cfg.ReauthWindow,
		Devices:             db,
		Throttle:            server.Throttle{Limiter: limiter, History: db, KnownIPWindow: cfg.KnownIPWindow},
		Resets:              db,
	}
	for _, h := range testHooks {
		h(&scfg)
	}
	a.server, err = server.New(scfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// openLimiter returns the login and registration throttle: its counters
// live in Redis under LATCH_REDIS_KEY_PREFIX + "t:" when pool is set (shared
// by every instance), else in this process (the embedded mode is one
// instance anyway). clock is nil outside tests.
func openLimiter(cfg config.Config, pool redisconn.Source, clock func() time.Time) (*throttle.Limiter, error) {
	if pool == nil {
		return throttle.NewMemory(cfg.Throttle, 0, clock)
	}
	return throttle.NewRedis(pool, cfg.RedisKeyPrefix+"t:", cfg.RedisTimeout, cfg.Throttle)
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

// openSessionStore returns the session store the configuration names:
// Redis when LATCH_REDIS_URL is set (pool is then non-nil and the caller
// closes it), else the embedded store in db. With Redis, db is also told
// to keep the account state copies beside the sessions right on every
// change (store.DB.SetUserStateCache): the server, the CLI and reset links
// all open their stores here, so none of them can change an account
// without updating its copy.
func openSessionStore(cfg config.Config, db *store.DB) (st session.Store, pool redisConns, err error) {
	if len(cfg.RedisCluster) > 0 {
		cl, err := redisconn.NewCluster(cfg.RedisCluster, cfg.RedisClusterPassword, cfg.RedisTimeout)
		if cl == nil {
			return nil, nil, err
		} // an unreachable cluster at start is retried on use, like an unreachable Redis
		rs := session.NewRedisStore(cl, cfg.RedisKeyPrefix, cfg.RedisTimeout)
		db.SetUserStateCache(rs)
		return rs, cl, nil
	}
	if cfg.RedisURL == "" {
		return session.NewSQLStore(db.SQL(), db.Dialect(), 2*time.Second), nil, nil
	}
	pool, err = session.NewRedisPool(cfg.RedisURL, cfg.RedisTimeout)
	if err != nil {
		return nil, nil, err
	}
	rs := session.NewRedisStore(pool, cfg.RedisKeyPrefix, cfg.RedisTimeout)
	db.SetUserStateCache(rs)
	return rs, pool, nil
}

// redisConns is the Redis the app talks to: a *redis.Pool (one Redis) or a
// *redisconn.Cluster (LATCH_REDIS_CLUSTER).
type redisConns interface {
	redisconn.Source
	Stats() redis.PoolStats
	Close() error
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

func redisHost(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		raw = raw[i+1:]
	}
	return strings.TrimPrefix(strings.TrimPrefix(raw, "redis://"), "rediss://")
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
			"addr", redisHost(cfg.RedisURL), "err", err)
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
	go session.RunSweeper(ctx, a.server.Sessions().Registry(), 5*time.Minute, log)
	srv := &http.Server{
		Handler:           a.server.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
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
	fs := newFlagSet("user create", "user create --email E [--name N] [--admin] --password-stdin", stderr)
	email := fs.String("email", "", "email address (required)")
	name := fs.String("name", "", "display name (default: the part of the email before @)")
	admin := fs.Bool("admin", false, "give the user the admin role")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *email == "" || !*fromStdin {
		return usageError{errors.New("--email and --password-stdin are required")}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, user.MaxPasswordBytes+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if *name == "" {
		*name, _, _ = strings.Cut(strings.TrimSpace(*email), "@")
	}
	if errs := user.ValidateRegistration(*email, *name, pw); len(errs) > 0 {
		var msgs []string
		for _, f := range []string{"email", "name", "password"} {
			if m, ok := errs[f]; ok {
				msgs = append(msgs, f+": "+m)
			}
		}
		return usageError{errors.New(strings.Join(msgs, "; "))}
	}
	if msg := user.CheckPasswordStrength(pw, user.PasswordHints(*email, *name)...); msg != "" {
		return usageError{errors.New("password: " + msg)}
	}
	cfg, db, err := openDB(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	params, err := passwordParams(cfg.Argon2)
	if err != nil {
		return err
	}
	hash, err := password.NewHasher(params, 0, 0).Hash(ctx, pw)
	if err != nil {
		return err
	}
	u := &user.User{Email: strings.TrimSpace(*email), Name: strings.TrimSpace(*name), PasswordHash: hash, Role: user.RoleUser}
	if *admin {
		u.Role = user.RoleAdmin
	}
	if err := db.CreateUser(ctx, u); err != nil {
		if errors.Is(err, user.ErrEmailTaken) {
			return usageError{err}
		}
		return err
	}
	fmt.Fprintf(stdout, "created user %d <%s> role %s\n", u.ID, u.Email, u.Role)
	return recordCLIEvent(ctx, db, audit.Event{Type: audit.UserCreated, SubjectID: u.ID, Email: u.Email, Detail: "role " + string(u.Role)})
}
