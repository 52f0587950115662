package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latch/latch/internal/clientnet"
	"github.com/latch/latch/internal/text"
	"github.com/latch/latch/internal/user"
	"github.com/realclientip/realclientip-go"
)

// maxFormBytes caps request bodies on dynamic routes (64 KiB): the largest
// form is a 1024-byte password plus a few short fields.
const maxFormBytes = 64 << 10

// contentSecurityPolicy allows no script at all and no framing (OWASP ASVS
// 5.0 V3.4.3, V3.4.6).
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders sets the headers every response carries.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		if isResetPath(r.URL.Path) {
			h.Set("Referrer-Policy", "no-referrer") // the URL held a one-time token (hideResetToken)
		} else {
			h.Set("Referrer-Policy", "same-origin")
		}
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// noStore keeps dynamic pages, which may show personal data or set the
// session cookie, out of every cache, including the browser's back/forward
// history (OWASP ASVS 5.0 V14.3.2).
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// crossOrigin rejects cross-site state-changing browser requests with Go's
// http.CrossOriginProtection (Sec-Fetch-Site, else Origin vs Host). It
// guards login and register too (login CSRF).
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serverError(w, r, fmt.Errorf("%w (origin %q, sec-fetch-site %q)", errCrossOrigin,
			text.Truncate(r.Header.Get("Origin"), 200), text.Truncate(r.Header.Get("Sec-Fetch-Site"), 50)))
	}))
	return cop.Handler(next)
}

// limitBody caps request bodies at maxFormBytes; reading more fails with
// *http.MaxBytesError, which parseForm turns into errFormTooLarge (413).
//
// It also reads and parses a POST form here, before the session is loaded:
// a client that sends the headers, waits, and sends the rest of the body
// later must not have its action judged by a session, role or account state
// loaded before it was revoked, demoted or disabled. The session and the
// user are therefore read only once the whole request has arrived.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.Method == http.MethodPost {
			if err := parseForm(r); err != nil {
				s.serverError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// rejectBadURL answers 400 for a request whose path or query string holds
// a NUL byte or text that is not valid UTF-8, after percent-decoding, on
// (errURLText) on every route and before any handler or store sees it: PostgreSQL refuses
// both in text ("invalid byte sequence for encoding UTF8"), which made
// /admin/users?q=%00 a 500, and no page of Latch has a use for them. Form
// fields get the same rule in parseForm (limitBody, on the dynamic routes).
func (s *Server) rejectBadURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := !cleanText(r.URL.Path) || !cleanText(resetToken(r)) // the token hideResetToken took out of the path
		if !bad && r.URL.RawQuery != "" {
			q, _ := url.ParseQuery(r.URL.RawQuery) // malformed pairs are dropped, as r.URL.Query() does
			bad = !cleanValues(q)
		}
		if bad {
			s.serverError(w, r, errURLText) // 400, logged at info level with the route
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanText reports whether s is valid UTF-8 without a NUL byte: text any
// store can hold.
func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// cleanValues reports whether every key and value of v passes cleanText.
func cleanValues(v url.Values) bool {
	for key, values := range v {
		if !cleanText(key) {
			return false
		}
		for _, value := range values {
			if !cleanText(value) {
				return false
			}
		}
	}
	return true
}

// loadSession is the session step of the dynamic pages' chain: the
// session manager's middleware (session.Manager.Middleware), exactly, in
// production. Only when Config.AfterSessionLoad is set (tests) does it
// also call that hook after the session is loaded and before the rest of
// the chain; the hook is not a step of its own.
func (s *Server) loadSession(next http.Handler) http.Handler {
	if s.afterLoad == nil {
		return s.sessions.Middleware(next)
	}
	return s.sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.afterLoad(r)
		next.ServeHTTP(w, r)
	}))
}

type userKey struct{}

// currentUser returns the signed-in user put in the context by requireUser:
// the principal, without a password hash (PasswordHash is always ""). A
// handler that verifies the password reads the hash from SQL itself
// (checkOwnPassword).
func currentUser(ctx context.Context) *user.User {
	u, _ := ctx.Value(userKey{}).(*user.User)
	return u
}

// requireUser lets only signed-in users through. An anonymous GET is sent
// to /login with the page to return to; anything else to /login. The
// account's state is checked on each request, so a deleted or disabled
// account stops working at once, and so does a session older than the
// account's last credential or privilege change (staleCredentials).
//
// The state comes from the copy the session store read together with the
// session (session.Manager.Principal: on Redis the same script, so a
// signed-in page that shows no SQL data costs one Redis command and no
// SQL). Every change of the account writes that copy (store changeUser),
// on any instance, before it is reported done. When there is no usable
// copy (none yet, expired, being changed, or the embedded store) the user
// row is read from SQL, failing closed, and the copy is populated with the
// version read (refused if a change is in flight or a newer copy exists).
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := s.sessions.UserID(ctx)
		if id == 0 && s.sessions.RotatedAway(ctx) {
			s.rotatedAway(w, r)
			return
		}
		if id == 0 {
			s.redirectToLogin(w, r)
			return
		}
		u, ended, stale, err := s.principal(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if ended {
			if stale {
				s.setFlash(w, flashExpired)
			}
			s.redirectToLogin(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, userKey{}, u)))
	})
}

// principal returns the account of the signed-in session of r (browser
// or app: requireUser and apiRequireUser share it), in its current state:
// from the copy read with the session (Manager.Principal), else from SQL,
// failing closed, populating the copy. When the account is gone or
// disabled, or the session predates its credentials (stale,
// staleCredentials), the session is ended here and ended is true. Errors:
// the store's (then nothing is ended).
func (s *Server) principal(r *http.Request) (u *user.User, ended, stale bool, err error) {
	ctx := r.Context()
	id := s.sessions.UserID(ctx)
	u, fromCopy := s.sessions.Principal(ctx)
	if !fromCopy {
		if u, err = s.users.UserByID(ctx, id); err == nil {
			u.PasswordHash = "" // the principal never carries the hash
			if cerr := s.sessions.CacheUser(ctx, u); cerr != nil {
				s.log.WarnContext(r.Context(), "account state copy not written", "user_id", id, "err", cerr)
			}
		}
	}
	stale = err == nil && s.staleCredentials(ctx, u)
	if errors.Is(err, user.ErrNotFound) || (err == nil && u.Disabled) || stale {
		// The account is gone or disabled, or the session predates its
		// credentials: the session ends here (not an error page).
		if err := s.sessions.Logout(ctx); err != nil {
			return nil, false, false, err
		}
		s.metrics.SessionsRevoked(RevokeStale, 1)
		if stale {
			s.log.InfoContext(r.Context(), "session ended: credentials changed since sign-in", "user_id", id, "client_ip", clientIP(r))
		}
		return nil, true, stale, nil
	}
	if err != nil {
		return nil, false, false, err
	}
	return u, false, false, nil
}

// staleCredentials reports whether the session in ctx belongs to an
// earlier state of u's credentials. Every password change or reset,
// disabling and role change moves the account's credential epoch
// (User.SessionsValidAfter) forward, on any instance. A session records the
// epoch it was bound to when its password was last verified (login,
// re-authentication, its own password change: Manager.BindCredentials,
// read together with the hash that was checked); any other epoch ends it.
// This also catches a login that verified the old password while a change
// was in flight and stored its session after the change's RevokeUser.
// Sessions without a bound epoch fall back to comparing the time the
// password was entered with the epoch.
func (s *Server) staleCredentials(ctx context.Context, u *user.User) bool {
	if bound, ok := s.sessions.CredentialsEpoch(ctx); ok {
		return bound != epochOf(u)
	}
	return !u.SessionsValidAfter.IsZero() && s.sessions.AuthenticatedAt(ctx).Before(u.SessionsValidAfter)
}

// epochOf returns u's credential epoch in unix seconds (0 when never set).
func epochOf(u *user.User) int64 {
	if u.SessionsValidAfter.IsZero() {
		return 0
	}
	return u.SessionsValidAfter.Unix()
}

// rotatedAway answers a request whose cookie names a session token that a
// re-authentication replaced less than a minute ago, the session living on
// under the new token (session.Manager.RotatedAway): the same form sent
// twice, this copy arriving after the first one's answer (or another
// request sent with the old cookie meanwhile). Nothing is done, the cookie
// is left alone (the browser holds the new one) and nobody is signed out.
// A form that rotates the token (a sudo-mode confirmation, carrying
// reauth_password, or the password change) is answered like the in-flight
// loser (sentTwice: 303 to the page it came from, with the "sent twice"
// note); any other request is sent to /login (with the page to return to,
// for a GET), which passes a browser holding the new cookie straight back
// (loginShow), without the "session ended" note.
func (s *Server) rotatedAway(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && parseForm(r) == nil &&
		(r.URL.Path == "/account/password" || r.PostForm.Has(reauthField)) {
		s.sentTwice(w, r, sentTwiceTarget(r))
		return
	}
	s.redirectToLogin(w, r) // Expired is false: no "session ended" note, no cookie cleared
}

// sentTwiceTarget is where the loser of a double-submitted form is sent:
// the account page after a password change (as passwordChange's ErrRotated
// answer), else where the confirmation page's Cancel leads (reauthCancel).
func sentTwiceTarget(r *http.Request) string {
	if r.URL.Path == "/account/password" {
		return "/account"
	}
	return reauthCancel(r)
}

func (s *Server) redirectToLogin(w http.ResponseWriter, r *http.Request) {
	if s.sessions.Expired(r.Context()) {
		s.setFlash(w, flashExpired)
	}
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + urlQueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// requireCSRFToken checks the per-session synchronizer token on every
// state-changing request of a signed-in user, in addition to crossOrigin,
// so a request with neither Origin nor Sec-Fetch-Site still needs it.
func (s *Server) requireCSRFToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if err := parseForm(r); err != nil {
			s.serverError(w, r, err)
			return
		}
		if !s.sessions.ValidCSRF(r.Context(), r.PostForm.Get("csrf_token")) {
			s.serverError(w, r, errCSRF) // 403, logged at warn level with the route, client IP and user ID
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (sr *statusRecorder) WriteHeader(code int) {
	if sr.status == 0 {
		sr.status = code
	}
	sr.ResponseWriter.WriteHeader(code)
}

func (sr *statusRecorder) Write(b []byte) (int, error) {
	if sr.status == 0 {
		sr.status = http.StatusOK
	}
	return sr.ResponseWriter.Write(b)
}

func (sr *statusRecorder) Unwrap() http.ResponseWriter { return sr.ResponseWriter }

// logRequest logs one line per request: method, path (never the query,
// which may hold a next= URL; a reset link's token has already been taken
// out of the path by hideResetToken), status, duration, and the request ID
// (requestid.go).
func (s *Server) logRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		s.log.InfoContext(r.Context(), "request", "method", r.Method, "route", logRoute(r), "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds(), "client_ip", clientIP(r)) // + request_id (withRequestIDs)
	})
}

// recoverPanic turns a panic into a logged 500 page instead of a dropped
// connection.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				w.Header().Set("Connection", "close")
				s.serverError(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type clientIPKey struct{}

// realIP works out the client's IP once per request: the connection's peer,
// unless that peer is a trusted proxy (Config.TrustedProxies), in which case
// the rightmost X-Forwarded-For entry that is not a trusted proxy
// (realclientip-go's RightmostTrustedRangeStrategy; the leftmost entries
// are whatever the client chose to send and are never believed). The
// address is kept as clientnet.Addr writes it (zone dropped, IPv4-mapped
// unmapped), so what audit events, logs and the throttle see for
// "10.3.3.3%q10" is "10.3.3.3": a zone in X-Forwarded-For is the client's
// own text.
func (s *Server) realIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := realclientip.RemoteAddrStrategy{}.ClientIP(nil, r.RemoteAddr)
		if ip == "" {
			ip = r.RemoteAddr
		}
		if s.proxies != nil && s.trusted(ip) {
			if fwd := s.proxies.ClientIP(r.Header, r.RemoteAddr); fwd != "" {
				ip = fwd
			}
		}
		if a, ok := clientnet.Addr(ip); ok {
			ip = a
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
	})
}

func (s *Server) trusted(ip string) bool {
	parsed := net.ParseIP(ip)
	for _, n := range s.trustedNets {
		if parsed != nil && n.Contains(parsed) {
			return true
		}
	}
	return false
}

// clientIP returns the client IP that realIP found, or the peer address for
// a request that did not pass through it.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requireAdmin lets only administrators through; everyone else gets a 403
// page. It runs after requireUser, which checks the account's current
// state on every request, so a role taken away applies at once.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(r.Context())
		if u == nil || u.Role != user.RoleAdmin {
			s.serverError(w, r, errNotAdmin) // 403, logged at warn level with the route, client IP and user ID
			return
		}
		next.ServeHTTP(w, r)
	})
}
