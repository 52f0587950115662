// Package server is everything HTTP for Latch's site: routes, middleware,
// handlers, page rendering, and the one place where errors become status
// codes and pages (errors.go). It gets every dependency through New and
// declares the small interfaces it needs.
package server

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"time"

	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// UserStore is the part of the SQL store the site uses.
type UserStore interface {
	CreateUser(ctx context.Context, u *user.User) error
	UserByEmail(ctx context.Context, email string) (*user.User, error)
	UserByID(ctx context.Context, id int64) (*user.User, error)
	SetPasswordHash(ctx context.Context, id int64, hash string) error
}

// PasswordHasher hashes and verifies passwords (internal/password.Hasher).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyDummy(ctx context.Context, password string) (bool, error)
	NeedsRehash(encoded string) bool
}

// Config holds the Server's dependencies. All fields are required except
// Clock (default time.Now) and Health.
type Config struct {
	Log       *slog.Logger
	Users     UserStore
	Passwords PasswordHasher
	// Sessions configures the session manager; New fills in OnError.
	Sessions  session.Options
	Templates fs.FS // web.Templates: base.html, partials/*.html, pages/*.html
	Static    fs.FS // web.Static, served under /static/
	Clock     func() time.Time
	// Health reports whether the dependencies answer (GET /healthz).
	Health func(ctx context.Context) error
}

// Server is Latch's HTTP application.
type Server struct {
	log       *slog.Logger
	users     UserStore
	passwords PasswordHasher
	sessions  *session.Manager
	pages     map[string]*template.Template
	static    fs.FS
	clock     func() time.Time
	health    func(ctx context.Context) error
	secure    bool // cookies carry Secure (and the __Host- prefix)
}

// New parses every page template (failing fast on a template error) and
// returns a Server.
func New(cfg Config) (*Server, error) {
	pages, err := parsePages(cfg.Templates)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		log:       cfg.Log,
		users:     cfg.Users,
		passwords: cfg.Passwords,
		pages:     pages,
		static:    cfg.Static,
		clock:     cfg.Clock,
		health:    cfg.Health,
		secure:    cfg.Sessions.Secure,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.health == nil {
		s.health = func(context.Context) error { return nil }
	}
	opts := cfg.Sessions
	opts.Clock = s.clock
	opts.OnError = s.sessionError
	s.sessions = session.NewManager(opts)
	return s, nil
}

// Sessions returns the session manager (for tests and the CLI).
func (s *Server) Sessions() *session.Manager { return s.sessions }
