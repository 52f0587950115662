// Package server is everything HTTP for Latch's site: routes, middleware,
// handlers, page rendering, and the one place where errors become status
// codes and pages (errors.go). It gets every dependency through New and
// declares the small interfaces it needs.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/realclientip/realclientip-go"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/slots"
	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/web"
)

// UserStore is the part of the SQL store the site reads accounts from
// (every change of an account goes through Config.Accounts).
type UserStore interface {
	// UserByEmail and UserByID return one account. Errors: user.ErrNotFound.
	UserByEmail(ctx context.Context, email string) (*user.User, error)
	UserByID(ctx context.Context, id int64) (*user.User, error)
	// UsersByIDs returns the accounts among ids that exist, keyed by ID,
	// in one query (the names on an admin page); 0 and unknown IDs are
	// left out.
	UsersByIDs(ctx context.Context, ids []int64) (map[int64]*user.User, error)
	// SetPasswordHash replaces account id's hash with a rehash of the same
	// password (after a login with outdated parameters); the credential
	// epoch does not move.
	SetPasswordHash(ctx context.Context, id int64, hash string) error
	// Users returns one page of accounts whose email contains emailQuery
	// ("" = all) and the number of accounts matching it.
	Users(ctx context.Context, emailQuery string, offset, limit int) ([]user.User, int, error)
	// SetTimeZone stores the time zone account id chose for the pages (an
	// IANA name the caller checked, "" for none). Errors: user.ErrNotFound;
	// one matching user.ErrStateCopyNotWritten when only the account's
	// state copy could not be written (the change is stored).
	SetTimeZone(ctx context.Context, id int64, zone string) error
}

// PasswordResets keeps one-time password reset links (the SQL store):
// the account operations' interface (account.PasswordResets), named here
// for Config.Resets, which turns reset links on.
type PasswordResets = account.PasswordResets

// AuditLog stores and lists security events (the SQL store).
type AuditLog interface {
	// InsertAuditEvent stores e and sets e.ID.
	InsertAuditEvent(ctx context.Context, e *audit.Event) error
	// AuditEvents returns one page of events matching f, newest first, and
	// the number of events matching f (counted up to f.Offset +
	// f.CountLimit + 1 when f.CountLimit > 0).
	AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, int, error)
}

// DefaultReauthWindow is how long after the password was last entered a
// session may take sensitive actions without entering it again.
const DefaultReauthWindow = 5 * time.Minute

// PasswordHasher hashes and verifies passwords (internal/password.Hasher).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyDummy(ctx context.Context, password string) (bool, error)
	NeedsRehash(encoded string) bool
	// CheaperThanCurrent reports whether encoded costs less to verify
	// than a current hash (a failed login then also pays VerifyDummy).
	CheaperThanCurrent(encoded string) bool
	// PadFailure waits (a timer) until a failed login that has spent
	// spent on verification has taken as long as the slowest kind of
	// hash recently verified (capped).
	PadFailure(ctx context.Context, spent time.Duration)
}

// Config holds the Server's dependencies. All fields are required except
// Clock (default time.Now), Health, ReauthWindow (default
// DefaultReauthWindow), Devices, Throttle, Resets, Metrics and Overview.
type Config struct {
	// Accounts carries out every account operation (internal/account:
	// register, change or reset a password, reset links, disable, enable,
	// revoke sessions), built by the caller (cmd/latch) on the same
	// stores, session registry, password hasher and clock as this Config,
	// with the strength pool that judges new passwords.
	Accounts  *account.Service
	Log       *slog.Logger
	Users     UserStore
	Passwords PasswordHasher
	// Audit records security events (sign-ins, revocations, admin actions)
	// and lists them on the profile and admin pages.
	Audit AuditLog
	// ReauthWindow is how recently the password must have been entered for
	// a sensitive action (sudo mode); older sessions are asked for it again.
	ReauthWindow time.Duration
	// OpenAPI is the JSON API's OpenAPI 3.1 document (web.OpenAPI), served
	// at GET /api/v1/openapi.json; nil answers 404 there (api.go).
	OpenAPI []byte
	// APICORSOrigins are the origins allowed to call /api/v1 from a
	// browser (LATCH_API_CORS_ORIGINS, exact match); empty turns CORS off.
	APICORSOrigins []string
	// Sessions is the session manager, built by the caller (cmd/latch) on
	// the session store with the same Clock as this Config and the per-user
	// session limit (LATCH_MAX_SESSIONS_PER_USER, 0 = no limit: at login
	// the oldest sessions are revoked to make room); New mounts a copy with
	// the server's error pages, client IP and audit of limit revocations
	// (session.Manager.WithHTTPHooks). Its Registry lists and revokes.
	Sessions  *session.Manager
	Templates fs.FS // web.Templates: base.html, partials/*.html, pages/*.html
	Static    fs.FS // web.Static, served under /static/
	Locales   fs.FS // web.Locales: the message catalogues (nil: web.Locales)
	Clock     func() time.Time
	// Health reports whether the dependencies answer (GET /readyz), within
	// ctx's deadline; nil means always ready.
	Health func(ctx context.Context) error
	// ReadyTimeout bounds Health on GET /readyz (LATCH_READY_TIMEOUT);
	// 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (LATCH_TRUSTED_PROXIES); empty means the peer address is the client.
	TrustedProxies []net.IPNet
	// AfterSessionLoad, when set, is called on every dynamic request right
	// after its session is loaded and before the handler runs. Tests use it
	// to hold a request in flight with its session loaded (to show that a
	// revocation meanwhile is final); nil in production, where the chain is
	// the session manager's middleware alone (loadSession).
	AfterSessionLoad func(r *http.Request)
	// Devices remembers the devices each account signs in from, for the
	// new-device event and notice (newdevice.go); nil turns both off.
	Devices DeviceLog
	// Throttle limits failed logins and registrations (throttle.go); the
	// zero value turns throttling off.
	Throttle Throttle
	// Resets keeps one-time password reset links (handlers_reset.go); nil
	// turns them off: /reset/* answers 404 and admins cannot make links.
	Resets PasswordResets
	// Metrics receives request, login and session counts (metrics.go;
	// *metrics.Recorder); nil turns them off.
	Metrics Metrics
	// Overview counts sign-in events and disabled accounts for the admin
	// overview (handlers_overview.go; *store.DB); nil turns the overview
	// off: /admin then sends to the account list.
	Overview OverviewStore
}

// Server is Latch's HTTP application.
type Server struct {
	log          *slog.Logger
	users        UserStore
	passwords    PasswordHasher
	audit        AuditLog
	sessions     *session.Manager
	pages        map[string]map[string]*pagePool // by language, then page
	catalog      *locale.Catalog
	static       fs.FS
	templates    fs.FS // Config.Templates, as parsed into pages
	clock        func() time.Time
	health       func(ctx context.Context) error
	readyTimeout time.Duration // bounds health on GET /readyz
	ready        readiness     // shutdown begun? /readyz ever asked? (readyz.go)
	secure       bool          // cookies carry Secure (and the __Host- prefix)
	reauthWindow time.Duration
	openAPI      []byte   // GET /api/v1/openapi.json
	corsOrigins  []string // LATCH_API_CORS_ORIGINS
	trustedNets  []net.IPNet
	proxies      realclientip.Strategy // nil when no proxy is trusted
	maxSessions  int                   // 0 = unlimited
	devices      DeviceLog             // nil: no new-device events or notices
	throttle     Throttle              // zero: no throttling
	resets       PasswordResets        // nil: no reset links
	overview     OverviewStore         // nil: /admin sends to /admin/users
	overviewRun  *slots.Pool           // one overview computed at a time (handlers_overview.go)
	afterLoad    func(r *http.Request)
	metrics      Metrics          // noMetrics when Config.Metrics is nil
	accounts     *account.Service // every account operation (internal/account), shared with the CLI
}

// New parses every page template (failing fast on a template error) and
// returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Audit == nil {
		return nil, errors.New("server: Config.Audit is required")
	}
	if cfg.Sessions == nil {
		return nil, errors.New("server: Config.Sessions is required")
	}
	if cfg.Accounts == nil {
		return nil, errors.New("server: Config.Accounts is required")
	}
	locales := cfg.Locales
	if locales == nil {
		locales = web.Locales
	}
	catalog, err := locale.Load(locales)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	pages, err := parsePages(cfg.Templates, catalog)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		catalog:      catalog,
		log:          withRequestIDs(cfg.Log), // request_id on lines logged with a request's context
		users:        cfg.Users,
		passwords:    cfg.Passwords,
		audit:        cfg.Audit,
		pages:        pages,
		static:       cfg.Static,
		templates:    cfg.Templates,
		clock:        cfg.Clock,
		health:       cfg.Health,
		secure:       cfg.Sessions.Secure(),
		reauthWindow: cfg.ReauthWindow,
	}
	if s.reauthWindow <= 0 {
		s.reauthWindow = DefaultReauthWindow
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.readyTimeout = cfg.ReadyTimeout; s.readyTimeout <= 0 {
		s.readyTimeout = DefaultReadyTimeout
	}
	if s.health == nil {
		s.health = func(context.Context) error { return nil }
	}
	s.trustedNets = cfg.TrustedProxies
	s.openAPI, s.corsOrigins = cfg.OpenAPI, cfg.APICORSOrigins
	s.maxSessions = cfg.Sessions.MaxSessionsPerUser()
	s.afterLoad = cfg.AfterSessionLoad
	s.devices = cfg.Devices
	s.throttle = cfg.Throttle
	s.resets = cfg.Resets
	s.overview = cfg.Overview
	s.overviewRun = slots.New(1, overviewQueue, overviewWait)
	s.metrics = cfg.Metrics
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	if len(cfg.TrustedProxies) > 0 {
		strat, err := realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", cfg.TrustedProxies)
		if err != nil {
			return nil, fmt.Errorf("server: trusted proxies: %w", err)
		}
		s.proxies = strat
	}
	s.sessions = cfg.Sessions.WithHTTPHooks(session.HTTPHooks{
		OnError:        s.sessionError,
		ClientIP:       clientIP,
		OnLimitRevoked: s.auditLimitRevoked,
	})
	s.accounts = cfg.Accounts
	return s, nil
}

// Sessions returns the session manager the server mounts (for tests).
func (s *Server) Sessions() *session.Manager { return s.sessions }
