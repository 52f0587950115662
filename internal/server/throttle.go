package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/clientnet"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// This file holds login and registration throttling (internal/throttle):
// every password check (the login form, the sudo-mode prompt, the
// password-change form) first reserves an attempt with reserveLogin,
// before the password is verified, and hands it back with refundLogin
// when the password was right; countRegistration counts a registration
// before the account is created. A refusal is an error of kind
// fail.Throttled, which errors.go answers with 429 and Retry-After.

// LoginLimiter reserves login attempts and counts registrations
// (*throttle.Limiter).
type LoginLimiter interface {
	// ReserveLogin atomically counts one login attempt for account from ip
	// against every quota (the per-account one skipped when exemptAccount)
	// if all accept it, or counts nothing and says which refused.
	ReserveLogin(ctx context.Context, account, ip string, exemptAccount bool) (throttle.Reservation, error)
	// Refund hands back an accepted reservation (a successful login).
	Refund(ctx context.Context, r throttle.Reservation) error
	// Register counts one registration from ip and tells whether it may go ahead.
	Register(ctx context.Context, ip string) (throttle.Verdict, error)
}

// LoginHistory remembers the client networks (clientnet.Of) each account
// signed in from (store.DB: the known_networks table).
type LoginHistory interface {
	// KnownNetwork reports whether userID signed in from network at or
	// after since.
	KnownNetwork(ctx context.Context, userID int64, network string, since time.Time) (bool, error)
	// RecordNetworkLogin records that userID signed in from network at at.
	RecordNetworkLogin(ctx context.Context, userID int64, network string, at time.Time) error
}

// DefaultKnownIPWindow is how long after a successful login a network
// stays "known" for the account (exempt from the per-account quota): 90
// days.
const DefaultKnownIPWindow = 90 * 24 * time.Hour

// Throttle configures login and registration throttling.
type Throttle struct {
	// Limiter counts; nil turns throttling off.
	Limiter LoginLimiter
	// History exempts an account's known networks from the per-account
	// quota, so that an attack from elsewhere does not keep the owner out;
	// nil means no network is known.
	History LoginHistory
	// KnownIPWindow is how far back a successful login makes its network
	// known (LATCH_THROTTLE_KNOWN_IP_WINDOW); <= 0 means
	// DefaultKnownIPWindow.
	KnownIPWindow time.Duration
}

// reserveLogin reserves one login attempt for email from the client's
// network before any password is hashed (throttle.Limiter.ReserveLogin:
// one Redis round trip). It writes nothing: a nil error means the password
// may be checked; otherwise the error is of kind fail.Throttled when a
// quota is used up (429 with Retry-After: cheap, no hashing; see
// refuseLogin), fail.Unavailable when the counters cannot be reached (503:
// fail closed), or the store's when the known network cannot be looked up.
// When only the per-account quota refused, a network the account signed in
// from within the known-IP window still gets through: the network is
// looked up (SQL) and the attempt reserved again with the per-account
// quota exempt (a second round trip, only then); the per-account-and-network
// and per-network quotas hold for it too. The caller hands an accepted
// reservation back with refundLogin when the password was right.
func (s *Server) reserveLogin(r *http.Request, email string) (throttle.Reservation, error) {
	lim := s.throttle.Limiter
	if lim == nil {
		return throttle.Reservation{}, nil
	}
	ctx, ip := r.Context(), clientIP(r)
	res, err := lim.ReserveLogin(ctx, email, ip, false)
	if err != nil || !res.Limited() {
		return res, err
	}
	var subject int64
	if res.Scope == throttle.ScopeAccount {
		var known bool
		subject, known, err = s.knownNetwork(ctx, email, ip)
		if err != nil {
			return res, err
		}
		if known {
			exempt, err := lim.ReserveLogin(ctx, email, ip, true)
			if err != nil {
				return exempt, err
			}
			if !exempt.Limited() {
				s.log.InfoContext(r.Context(), "login allowed from a known network despite the account quota", "user_id", subject, "client_ip", ip)
				return exempt, nil
			}
			exempt.Audit = exempt.Audit || res.Audit // the first step may have taken this minute's sample
			res = exempt                             // another quota filled up meanwhile
		}
	}
	return res, s.refuseLogin(r, email, subject, res)
}

// refundLogin hands back the attempt res reserved, after the password was
// right: only failures use up the quotas. A failure is only logged: the
// person is signed in either way, and the quota refills with time.
func (s *Server) refundLogin(r *http.Request, res throttle.Reservation) {
	if s.throttle.Limiter == nil {
		return
	}
	if err := s.throttle.Limiter.Refund(r.Context(), res); err != nil {
		s.log.WarnContext(r.Context(), "successful login not refunded to the throttle", "client_ip", clientIP(r), "err", err)
	}
}

// knownNetwork returns the account of email (0 when there is none) and
// whether it signed in from ip's network (clientnet.Of) within the
// known-IP window, and not before its last credential change. An unknown
// address costs the same two queries (history for no account), so the
// time a refusal takes does not tell whether an account exists.
func (s *Server) knownNetwork(ctx context.Context, email, ip string) (userID int64, known bool, err error) {
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
		// Sign-ins before the last credential change do not vouch for a
		// network: they may have used a stolen password.
		if u.SessionsValidAfter.After(since) {
			since = u.SessionsValidAfter
		}
	}
	network, _ := clientnet.Of(ip)
	known, err = s.throttle.History.KnownNetwork(ctx, userID, network, since)
	if err != nil {
		return 0, false, err
	}
	return userID, known && userID != 0 && network != "", nil
}

// rememberNetwork records the client's network as known for userID after
// a successful sign-in. A store failure is logged; the sign-in stands.
func (s *Server) rememberNetwork(r *http.Request, userID int64) {
	network, ok := clientnet.Of(clientIP(r))
	if s.throttle.History == nil || !ok {
		return
	}
	if err := s.throttle.History.RecordNetworkLogin(r.Context(), userID, network, s.clock()); err != nil {
		s.log.ErrorContext(r.Context(), "known network not recorded", "user_id", userID, "client_ip", clientIP(r), "err", err)
	}
}

// refuseLogin audits a throttled login and returns its error (kind
// fail.Throttled, with the wait: 429 with Retry-After). The first refusal
// per account and network in a minute (res.Audit, decided in the same step
// as the refusal) is audited (login.failed, detail "throttled …", via
// loginVia) and logged; the rest only get the request log line, so an
// attack cannot flood the audit log. subject is the account when already looked up.
func (s *Server) refuseLogin(r *http.Request, email string, subject int64, res throttle.Reservation) error {
	ctx, ip := r.Context(), clientIP(r)
	if res.Audit {
		if subject == 0 {
			if u, err := s.users.UserByEmail(ctx, email); err == nil {
				subject = u.ID
			}
		}
		detail := fmt.Sprintf("throttled (%s quota; retry in %d s)", res.Scope, waitSeconds(res.RetryAfter))
		s.log.WarnContext(r.Context(), "login throttled", "scope", string(res.Scope), "user_id", subject, "client_ip", ip,
			"retry_after_s", waitSeconds(res.RetryAfter))
		s.record(r, audit.Event{Type: audit.LoginFailed, Via: loginVia(r), SubjectID: subject, Email: auditEmail(email), Detail: detail})
	}
	return res.Err()
}

// countRegistration counts a registration attempt from the client's IP
// before the password is hashed. It writes nothing: nil means the
// registration may go on; otherwise the error is of kind fail.Throttled
// (429 with Retry-After) or fail.Unavailable when the counters cannot be
// reached (503).
func (s *Server) countRegistration(r *http.Request) error {
	lim := s.throttle.Limiter
	if lim == nil {
		return nil
	}
	v, err := lim.Register(r.Context(), clientIP(r))
	if err != nil {
		return err
	}
	if v.Limited() {
		s.log.InfoContext(r.Context(), "registration throttled", "client_ip", clientIP(r), "retry_after_s", waitSeconds(v.RetryAfter))
	}
	return v.Err()
}

// loginVia is the Via of a sign-in's audit event: via app for the JSON
// API's (POST /api/v1/sessions, and a password check of an app session),
// "" for the login form's.
func loginVia(r *http.Request) audit.Via {
	if isAPIPath(r) {
		return audit.ViaApp
	}
	return ""
}
