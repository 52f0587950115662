package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// This file holds login and registration throttling (internal/throttle): the
// handlers call loginAllowed before a password is checked, countLoginFailure
// after a failed one, and registerAllowed before an account is created.

// LoginLimiter counts failed logins and registrations
// (*throttle.Limiter).
type LoginLimiter interface {
	// CheckLogin tells, without counting, whether a login for account
	// from ip may go ahead and, if not, which quota refused.
	CheckLogin(ctx context.Context, account, ip string) (throttle.Verdict, error)
	// LoginFailed counts one failed login for account from ip.
	LoginFailed(ctx context.Context, account, ip string) error
	// Register counts one registration from ip and tells whether it may go ahead.
	Register(ctx context.Context, ip string) (throttle.Verdict, error)
	// Sample tells whether a refused login should be audited (rate-limited).
	Sample(ctx context.Context, account, ip string) (bool, error)
}

// LoginHistory tells whether an account signed in successfully from an IP
// at or after a time (store.DB.KnownLoginIP, from the audit log).
type LoginHistory interface {
	KnownLoginIP(ctx context.Context, userID int64, ip string, since time.Time) (bool, error)
}

// DefaultKnownIPWindow is how long after a successful login an IP stays
// "known" for the account (exempt from the per-account quota): 90 days.
const DefaultKnownIPWindow = 90 * 24 * time.Hour

// Throttle configures login and registration throttling.
type Throttle struct {
	// Limiter counts; nil turns throttling off.
	Limiter LoginLimiter
	// History exempts an account's known IPs from the per-account quota,
	// so that an attack from elsewhere does not keep the owner out; nil
	// means no IP is known.
	History LoginHistory
	// KnownIPWindow is how far back a successful login makes an IP known
	// (LATCH_THROTTLE_KNOWN_IP_WINDOW); <= 0 means DefaultKnownIPWindow.
	KnownIPWindow time.Duration
}

// loginAllowed checks the login quotas for email from the client's IP
// before any password is hashed. It reports whether the login may go on;
// when not, it has answered: 429 with Retry-After when a quota is used up
// (cheap: no hashing), 503 when the counters cannot be reached (fail
// closed). When only the per-account quota is used up, an IP the account
// signed in from within the known-IP window still gets through; the
// per-account-and-IP and per-IP quotas hold for it too.
func (s *Server) loginAllowed(w http.ResponseWriter, r *http.Request, email string) bool {
	lim := s.throttle.Limiter
	if lim == nil {
		return true
	}
	ctx, ip := r.Context(), clientIP(r)
	v, err := lim.CheckLogin(ctx, email, ip)
	if err != nil {
		s.serverError(w, r, err)
		return false
	}
	if !v.Limited() {
		return true
	}
	var subject int64
	if v.Scope == throttle.ScopeAccount {
		var known bool
		subject, known, err = s.knownLoginIP(ctx, email, ip)
		if err != nil {
			s.serverError(w, r, err)
			return false
		}
		if known {
			s.log.Info("login allowed from a known IP despite the account quota", "user_id", subject, "client_ip", ip)
			return true
		}
	}
	s.refuseLogin(w, r, email, subject, v)
	return false
}

// knownLoginIP returns the account of email (0 when there is none) and
// whether it signed in from ip within the known-IP window. An unknown
// address costs the same two queries (history for no account), so the time
// a refusal takes does not tell whether an account exists.
func (s *Server) knownLoginIP(ctx context.Context, email, ip string) (userID int64, known bool, err error) {
	if s.throttle.History == nil {
		return 0, false, nil
	}
	window := s.throttle.KnownIPWindow
	if window <= 0 {
		window = DefaultKnownIPWindow
	}
	since := s.clock().Add(-window)
	u, err := s.users.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, user.ErrNotFound):
	case err != nil:
		return 0, false, err
	default:
		userID = u.ID
		// Sign-ins before the last credential change do not vouch for an
		// IP: they may have used a stolen password.
		if u.SessionsValidAfter.After(since) {
			since = u.SessionsValidAfter
		}
	}
	known, err = s.throttle.History.KnownLoginIP(ctx, userID, ip, since)
	if err != nil {
		return 0, false, err
	}
	return userID, known && userID != 0, nil
}

// refuseLogin answers a throttled login with 429. The first refusal per
// account and IP in a minute is audited (login.failed, detail "throttled
// …") and logged; the rest only get the request log line, so an attack
// cannot flood the audit log. subject is the account when already looked up.
func (s *Server) refuseLogin(w http.ResponseWriter, r *http.Request, email string, subject int64, v throttle.Verdict) {
	ctx, ip := r.Context(), clientIP(r)
	sample, err := s.throttle.Limiter.Sample(ctx, email, ip)
	if err != nil {
		s.log.Warn("throttled login not sampled", "client_ip", ip, "err", err)
	}
	if sample {
		if subject == 0 {
			if u, err := s.users.UserByEmail(ctx, email); err == nil {
				subject = u.ID
			}
		}
		detail := fmt.Sprintf("throttled (%s quota; retry in %d s)", v.Scope, waitSeconds(v.RetryAfter))
		s.log.Warn("login throttled", "scope", string(v.Scope), "user_id", subject, "client_ip", ip,
			"retry_after_s", waitSeconds(v.RetryAfter))
		s.record(r, audit.Event{Type: audit.LoginFailed, SubjectID: subject, Email: email, Detail: detail})
	}
	s.tooManyAttempts(w, r, v.RetryAfter)
}

// countLoginFailure counts a failed login for email from the client's IP.
// A counting error is only logged: the person is told the login failed
// either way, and CheckLogin fails closed on the same Redis.
func (s *Server) countLoginFailure(r *http.Request, email string) {
	if s.throttle.Limiter == nil {
		return
	}
	if err := s.throttle.Limiter.LoginFailed(r.Context(), email, clientIP(r)); err != nil {
		s.log.Error("failed login not counted", "client_ip", clientIP(r), "err", err)
	}
}

// registerAllowed counts a registration attempt from the client's IP
// before the password is hashed and reports whether it may go on; when
// not, it has answered (429, or 503 when the counters cannot be reached).
func (s *Server) registerAllowed(w http.ResponseWriter, r *http.Request) bool {
	lim := s.throttle.Limiter
	if lim == nil {
		return true
	}
	v, err := lim.Register(r.Context(), clientIP(r))
	if err != nil {
		s.serverError(w, r, err)
		return false
	}
	if !v.Limited() {
		return true
	}
	s.log.Info("registration throttled", "client_ip", clientIP(r), "retry_after_s", waitSeconds(v.RetryAfter))
	s.tooManyAttempts(w, r, v.RetryAfter)
	return false
}
