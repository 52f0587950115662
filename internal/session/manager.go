// Package session is Latch's session layer: scs as the session manager,
// Latch's own scs stores (Redis, embedded SQL), and the policy scs lacks —
// idle and absolute timeouts enforced by the server with bounded writes,
// fixation-safe login, final revocation, and a per-session CSRF token; and
// app sessions for native apps, in the same stores, authenticated by
// opaque bearer tokens instead of the cookie (bearer.go).
package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/randtoken"
	"github.com/latch/latch/internal/text"
	"github.com/latch/latch/internal/user"
)

// Keys of the values Latch keeps in a session. Only integers, booleans and
// strings are stored (valueCodec, codec.go, encodes exactly those), and only identity and
// timestamps, so two overlapping writers of one session lose nothing that
// matters: the last writer's copy is as good as the other's.
const (
	keyUserID   = "uid"  // int64, the principal
	keyCreated  = "cms"  // int64 unix milliseconds, login time (ms: "oldest session" needs a strict order)
	keyAbsolute = "abs"  // int64 unix seconds, absolute deadline (fixed at login)
	keySeen     = "seen" // int64 unix seconds, last recorded activity
	keyRemember = "rem"  // bool, remember-me
	keyCSRF     = "csrf" // string, synchronizer token
	keyAuthAt   = "auth" // int64 unix seconds, last time the password was entered
	keyHandle   = "h"    // string, public handle (see Record)
	keyIP       = "ip"   // string, client IP at login
	keyUA       = "ua"   // string, User-Agent at login (capped)
	keyCred     = "cred" // int64, the account's credential epoch bound at login (see BindCredentials)
	keyKind     = "kind" // string, the session's Kind ("app"); absent for browser sessions
	keyDevice   = "dev"  // string, an app session's device name (bearer.go)

	// keyNoticeSeen is the time (int64 unix milliseconds, like keyCreated,
	// so that a new-device sign-in in the same second as this session's own
	// login is still told apart: issue 11) of the newest "new sign-in"
	// notice this session has shown, so that each notice is shown once per
	// session (notice.go, internal/server/newdevice.go).
	keyNoticeSeen = "nsm"
)

// maxUserAgentBytes caps the User-Agent kept with a session.
const maxUserAgentBytes = 512

// ErrMalformedCookie means the request carried a session cookie whose value
// cannot be a Latch token (wrong length or alphabet). Its kind is
// fail.Invalid; the server answers 400 and clears the cookie.
var ErrMalformedCookie = fail.New(fail.Invalid, "malformed session cookie")

// Options configures a Manager. Durations are wall-clock durations.
type Options struct {
	Store Store

	// IdleTimeout and AbsoluteTimeout apply to ordinary sessions,
	// RememberIdleTimeout and RememberAbsoluteTimeout to "remember me" ones
	// (OWASP ASVS 5.0 V7.3.1, V7.3.2).
	IdleTimeout, AbsoluteTimeout                 time.Duration
	RememberIdleTimeout, RememberAbsoluteTimeout time.Duration
	// APIIdleTimeout and APIAbsoluteTimeout apply to app sessions (KindApp,
	// bearer.go: LATCH_API_IDLE_TIMEOUT, LATCH_API_ABSOLUTE_TIMEOUT); 0
	// means DefaultAPIIdleTimeout and DefaultAPIAbsoluteTimeout.
	APIIdleTimeout, APIAbsoluteTimeout time.Duration

	// RefreshInterval is how stale the recorded last activity may get before
	// a request writes it again; 0 means min(1 minute, IdleTimeout/10).
	// Between refreshes an authenticated request costs one store read.
	RefreshInterval time.Duration

	// Secure sets the cookie's Secure attribute and the __Host- name prefix.
	Secure bool

	// Clock returns the current time; nil means time.Now. Tests inject one to
	// cross timeouts without sleeping.
	Clock func() time.Time

	// ClientIP returns the client's IP for a request (honouring trusted
	// proxies); nil means the connection's peer address.
	ClientIP func(r *http.Request) string

	// OnError writes the response for a session failure: ErrUnavailable
	// (answer 503), ErrMalformedCookie (answer 400). nil means a plain
	// text answer (plainError) until WithHTTPHooks supplies the site's.
	OnError func(w http.ResponseWriter, r *http.Request, err error)

	// MaxSessionsPerUser limits each user's live sessions (0 = no limit).
	// The store enforces it atomically when a login creates a session: the
	// user's other sessions beyond MaxSessionsPerUser-1 are revoked, oldest
	// login first, in the same step (issue 12.6).
	MaxSessionsPerUser int

	// OnLimitRevoked, if set, is called after a login's session was
	// written with the sessions the limit revoked (to audit them).
	OnLimitRevoked func(r *http.Request, revoked []Record)
}

// Manager wraps an scs.SessionManager. scs keeps the session data in the
// request context and does the loading, encoding (through Latch's codec,
// codec.go) and token generation
// (32 bytes from crypto/rand, 256 bits); it stays the session manager
// (rather than code of Latch's own) because those parts are small, right
// and maintained, and its exported Load/Commit/RenewToken and CtxStore
// interface let Latch add the rest around it without forking it. Latch
// does not use scs's LoadAndSave middleware because (as read from scs
// v2.9.0's source, the newest release): with IdleTimeout set it writes the
// whole session and a Set-Cookie on every request; its error path answers 500 and can keep a redirect's Location
// header; it has no way to tell a store that a write must not re-create a
// deleted session; and it sends `Cache-Control: no-cache="Set-Cookie"`
// rather than no-store.
// Manager.Middleware does those parts itself around scs's exported Load,
// Commit, Status and Token.
type Manager struct {
	scs    *scs.SessionManager
	opt    Options
	cookie string
}

// NewManager returns a Manager; it panics only on a programming error (nil
// Store, non-positive timeouts).
func NewManager(opt Options) *Manager {
	if opt.Store == nil {
		panic("session: NewManager needs a Store")
	}
	if opt.IdleTimeout <= 0 || opt.AbsoluteTimeout <= 0 || opt.RememberIdleTimeout <= 0 || opt.RememberAbsoluteTimeout <= 0 {
		panic("session: NewManager needs positive timeouts")
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.APIIdleTimeout <= 0 {
		opt.APIIdleTimeout = DefaultAPIIdleTimeout
	}
	if opt.APIAbsoluteTimeout <= 0 {
		opt.APIAbsoluteTimeout = DefaultAPIAbsoluteTimeout
	}
	if opt.OnError == nil {
		opt.OnError = plainError
	}
	sm := scs.New()
	sm.Store = opt.Store
	sm.Lifetime = max(opt.AbsoluteTimeout, opt.RememberAbsoluteTimeout, opt.APIAbsoluteTimeout) // replaced at login by SetDeadline
	sm.IdleTimeout = 0                                                                          // idle policy is ours: see Middleware
	sm.HashTokenInStore = false                                                                 // our stores hash; scs's hashing breaks Iterate
	sm.Codec = valueCodec{}                                                                     // not gob: see codec.go
	m := &Manager{scs: sm, opt: opt, cookie: CookieName(opt.Secure)}
	sm.Cookie.Name = m.cookie
	sm.Cookie.Secure = opt.Secure
	return m
}

// HTTPHooks are what the HTTP layer that mounts Middleware decides: how a
// session failure is answered, what a request's client IP is, and what
// becomes of the sessions a login's limit revoked (the Options fields of
// the same names).
type HTTPHooks struct {
	OnError        func(w http.ResponseWriter, r *http.Request, err error)
	ClientIP       func(r *http.Request) string
	OnLimitRevoked func(r *http.Request, revoked []Record)
}

// WithHTTPHooks returns a copy of m that uses h's hooks (each that is not
// nil replaces m's). cmd/latch builds the Manager from the configuration;
// the server, which owns the error pages, the client IP rules and the
// audit log, mounts the copy (server.New). m is unchanged; both share the
// store and the timeouts.
func (m *Manager) WithHTTPHooks(h HTTPHooks) *Manager {
	c := *m
	if h.OnError != nil {
		c.opt.OnError = h.OnError
	}
	if h.ClientIP != nil {
		c.opt.ClientIP = h.ClientIP
	}
	if h.OnLimitRevoked != nil {
		c.opt.OnLimitRevoked = h.OnLimitRevoked
	}
	return &c
}

// plainError is OnError when none is given, in plain text: 400 for a
// malformed cookie, 503 with Retry-After for ErrUnavailable, else 500.
func plainError(w http.ResponseWriter, _ *http.Request, err error) {
	switch {
	case errors.Is(err, ErrMalformedCookie):
		http.Error(w, "malformed session cookie", http.StatusBadRequest)
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "2")
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// Secure reports whether the cookie carries Secure and the __Host- prefix
// (Options.Secure).
func (m *Manager) Secure() bool { return m.opt.Secure }

// MaxSessionsPerUser is the per-user session limit (Options.MaxSessionsPerUser; 0 = none).
func (m *Manager) MaxSessionsPerUser() int { return m.opt.MaxSessionsPerUser }

// CookieName is "__Host-latch_session" when secure (the prefix makes the
// browser insist on Secure, Path=/ and no Domain), else "latch_session".
func CookieName(secure bool) string {
	if secure {
		return "__Host-latch_session"
	}
	return "latch_session"
}

// CookieName returns the name of the session cookie this Manager uses.
func (m *Manager) CookieName() string { return m.cookie }

// RefreshInterval returns how often an ordinary (not remember-me)
// session's idle deadline is written back to the store.
func (m *Manager) RefreshInterval() time.Duration { return m.refreshOf(m.opt.IdleTimeout) }

// requestState is what the middleware remembers about one request.
type requestState struct {
	loadedToken string // token found in the store at load (or after a rotation), "" if none
	created     bool   // Login issued a new session in this request: the commit may create it
	expired     bool   // a session was presented but had timed out
	rotated     bool   // a parallel re-authentication rotated the token (ErrRotated): commit nothing
	rotatedAway bool   // the cookie's session was not found because it was just rotated (RotatedAway)
	ip, ua      string // client IP and User-Agent of this request
	loaded      *loadedUser
	loginUser   *user.User // LoginUser's account: its state copy is written with the new session
	bearer      bool       // loaded by BearerMiddleware: no cookie is ever written or cleared
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	if st == nil {
		return &requestState{}
	}
	return st
}

// tokenBytes is the randomness in an scs session token (32 bytes from
// crypto/rand, 43 characters of URL-safe base64: scs's generateToken).
const tokenBytes = 32

// handleBytes is the randomness in a session handle (22 characters).
const handleBytes = 16

// csrfBytes is the randomness in a session's CSRF token (43 characters).
const csrfBytes = 32

// ValidHandle reports whether h can be a session handle (Record.Handle):
// 22 characters of the URL-safe base64 alphabet. Callers look up only
// handles that pass.
func ValidHandle(h string) bool { return randtoken.Valid(h, handleBytes) }

// Middleware loads the browser session named by the request's cookie (an
// app session's token sent as a cookie loads none: bearer.go), enforces the
// idle and absolute timeouts, calls next, and commits changes before the
// first byte of the response. Per request it costs:
//   - no cookie: nothing (anonymous requests never create a session);
//   - a live session whose activity was recorded less than RefreshInterval
//     ago: one store read, no write, no Set-Cookie (on Redis one script that
//     also reads the account's state copy: see Principal);
//   - otherwise one read and one update-only write, plus a Set-Cookie;
//   - a cookie whose session is not found: one read (on Redis the same
//     script also reads the token's rotation marker; the SQL store one more
//     indexed read) and a Set-Cookie that clears it, except for a token
//     rotated within the marker's minute into a session that lives
//     (RotatedAway): then no Set-Cookie.
//
// A store failure is passed to OnError (503) before next runs, or instead of
// the handler's response when the commit fails; a commit refused with
// ErrGone (the session was revoked while this request ran) clears the cookie
// and never re-creates the session.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		var token string
		if c, err := r.Cookie(m.cookie); err == nil && c.Value != "" {
			if !randtoken.Valid(c.Value, tokenBytes) {
				m.clearCookie(w)
				m.opt.OnError(w, r, ErrMalformedCookie)
				return
			}
			token = c.Value
		}

		ctx, st, err := m.load(r, token, KindBrowser)
		if err != nil {
			m.opt.OnError(w, r, err)
			return
		}
		switch {
		case token != "" && st.loadedToken == "" && st.loaded.rotated:
			// A re-authentication rotated this token moments ago and the
			// rotated session lives: a request sent twice that arrived
			// after the first one's answer. The browser holds (or is about
			// to hold) the new token: leave the cookie alone.
			st.rotatedAway = true
		case token != "" && st.loadedToken == "":
			// Unknown, expired, revoked or an app session's token: forget it
			// in the browser too, and let the page say why the person is
			// signed out.
			m.clearCookie(w)
			st.expired = true
		}
		m.serve(w, r.WithContext(ctx), next)
	})
}

// load loads the session of token (an scs token: a cookie's value, or
// the random part of a bearer token; "" for none) for r, and enforces its
// timeouts (enforce). Only a session of kind is loaded: one of the other
// kind (a browser session's token sent as a bearer token, or the reverse)
// leaves the request anonymous and the session untouched, as do stored
// bytes that do not decode (those are deleted). KindApp also marks the
// request as the API's: its commit never writes or clears a cookie.
// Errors: the store's (wrapping ErrUnavailable); the caller passes them to
// OnError.
func (m *Manager) load(r *http.Request, token string, kind Kind) (context.Context, *requestState, error) {
	slot := &loadedUser{}
	ctx, err := m.scs.Load(withLoadedUser(r.Context(), slot), token)
	if err != nil && !errors.Is(err, fail.Unavailable) {
		// The stored bytes do not decode: drop them and go on anonymous.
		if derr := m.opt.Store.DeleteCtx(r.Context(), token); derr != nil {
			err = derr
		} else {
			ctx, err = m.scs.Load(r.Context(), "")
		}
	}
	if err != nil {
		return nil, nil, err
	}
	st := &requestState{loadedToken: m.scs.Token(ctx), ip: m.clientIP(r), ua: text.Truncate(r.UserAgent(), maxUserAgentBytes),
		loaded: slot, bearer: kind == KindApp}
	ctx = context.WithValue(ctx, stateKey{}, st)
	if st.loadedToken != "" && m.kindOf(ctx) != kind {
		if ctx, err = m.anonymous(r.Context(), st); err != nil {
			return nil, nil, err
		}
	}
	if st.loadedToken != "" {
		if err := m.enforce(ctx, st); err != nil {
			return nil, nil, err
		}
	}
	return ctx, st, nil
}

// serve calls next with the session loaded into r's context and commits
// the session before the first byte of the response (responseWriter), or
// after next when it wrote nothing.
func (m *Manager) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	sw := &responseWriter{ResponseWriter: w, m: m, r: r}
	next.ServeHTTP(sw, sw.r)
	if !sw.committed {
		sw.commit()
	}
}

// enforce applies the timeouts to a loaded session: an expired one is
// destroyed (the request continues anonymous, st.expired set), a live one
// whose recorded activity is older than the refresh interval gets a new
// idle deadline.
func (m *Manager) enforce(ctx context.Context, st *requestState) error {
	now := m.opt.Clock()
	if m.scs.GetInt64(ctx, keyUserID) == 0 || now.After(m.idleDeadline(ctx)) || now.After(m.absoluteDeadline(ctx)) {
		st.expired = m.scs.GetInt64(ctx, keyUserID) != 0
		if err := m.scs.Destroy(ctx); err != nil {
			return fmt.Errorf("session: destroy expired: %w", err)
		}
		return nil
	}
	if now.Sub(time.Unix(m.scs.GetInt64(ctx, keySeen), 0)) >= m.refreshFor(ctx) {
		m.touch(ctx, now)
	}
	return nil
}

// refreshFor returns the refresh interval of the session in ctx: the
// configured one, else min(1 minute, its own idle timeout / 10), so that a
// short remember-me idle timeout is refreshed often enough too.
func (m *Manager) refreshFor(ctx context.Context) time.Duration {
	idle, _ := m.timeouts(ctx)
	return m.refreshOf(idle)
}

// refreshOf is the refresh interval for a session with idle timeout idle.
func (m *Manager) refreshOf(idle time.Duration) time.Duration {
	if m.opt.RefreshInterval > 0 {
		return m.opt.RefreshInterval
	}
	return min(time.Minute, idle/10)
}

// touch records activity at now and moves the store expiry to the new idle
// deadline (never past the absolute one).
func (m *Manager) touch(ctx context.Context, now time.Time) {
	m.scs.Put(ctx, keySeen, now.Unix())
	m.scs.SetDeadline(ctx, m.storeDeadline(ctx))
}

func (m *Manager) timeouts(ctx context.Context) (idle, absolute time.Duration) {
	if m.kindOf(ctx) == KindApp {
		return m.opt.APIIdleTimeout, m.opt.APIAbsoluteTimeout
	}
	if m.scs.GetBool(ctx, keyRemember) {
		return m.opt.RememberIdleTimeout, m.opt.RememberAbsoluteTimeout
	}
	return m.opt.IdleTimeout, m.opt.AbsoluteTimeout
}

func (m *Manager) idleDeadline(ctx context.Context) time.Time {
	idle, _ := m.timeouts(ctx)
	return time.Unix(m.scs.GetInt64(ctx, keySeen), 0).Add(idle)
}

func (m *Manager) absoluteDeadline(ctx context.Context) time.Time {
	return time.Unix(m.scs.GetInt64(ctx, keyAbsolute), 0)
}

func (m *Manager) storeDeadline(ctx context.Context) time.Time {
	return minTime(m.idleDeadline(ctx), m.absoluteDeadline(ctx))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Login makes the request's session belong to userID: it discards the token
// the client presented (its store key is deleted, preventing session
// fixation, OWASP ASVS 5.0 V7.2.4), issues a new one, and fixes the absolute
// deadline at now + the absolute timeout (remember-me or not). The store is
// written when the response starts. Errors wrap ErrUnavailable.
func (m *Manager) Login(ctx context.Context, userID int64, remember bool) error {
	return m.login(ctx, userID, remember, KindBrowser, "")
}

// login is Login for a session of kind (with device, an app session's
// device name).
func (m *Manager) login(ctx context.Context, userID int64, remember bool, kind Kind, device string) error {
	if err := m.scs.RenewToken(ctx); err != nil {
		return fmt.Errorf("session: login: %w", err)
	}
	if err := m.placeToken(ctx, userID); err != nil {
		return fmt.Errorf("session: login: %w", err)
	}
	if err := m.scs.Clear(ctx); err != nil {
		return fmt.Errorf("session: login: %w", err)
	}
	csrf := randtoken.New(csrfBytes)
	handle, err := m.newHandle(userID)
	if err != nil {
		return fmt.Errorf("session: login: %w", err)
	}
	st := stateFrom(ctx)
	st.created = true
	now := m.opt.Clock()
	m.scs.Put(ctx, keyHandle, handle)
	m.scs.Put(ctx, keyIP, st.ip)
	m.scs.Put(ctx, keyUA, st.ua)
	m.scs.Put(ctx, keyUserID, userID)
	m.scs.Put(ctx, keyRemember, remember)
	m.scs.Put(ctx, keyCreated, now.UnixMilli())
	m.scs.Put(ctx, keyAuthAt, now.Unix())
	m.scs.Put(ctx, keyCSRF, csrf)
	if kind != KindBrowser {
		m.scs.Put(ctx, keyKind, string(kind))
		m.scs.Put(ctx, keyDevice, device)
	}
	_, absolute := m.timeouts(ctx)
	m.scs.Put(ctx, keyAbsolute, now.Add(absolute).Unix())
	m.touch(ctx, now)
	return nil
}

// LoginUser is Login for account u as just read from SQL (with the hash
// that was verified): stores that keep account state copies (RedisStore)
// also write u's copy, unless a newer one exists, in the same script that
// creates the session, so the login's session write stays one Redis
// round trip and the next page needs no SQL. u's password hash is never
// copied.
func (m *Manager) LoginUser(ctx context.Context, u *user.User, remember bool) error {
	if err := m.Login(ctx, u.ID, remember); err != nil {
		return err
	}
	cp := *u
	cp.PasswordHash = ""
	stateFrom(ctx).loginUser = &cp
	return nil
}

// Principal returns the account state read with the session in the same
// store call (RedisStore: the same script, see userstate.go): the
// signed-in user without a password hash, as a copy of the SQL row at
// version User.StateVersion. ok is false when anonymous, when the store
// keeps no copies (the embedded store), or when the copy is missing or
// being changed; the caller then reads SQL (and may CacheUser).
func (m *Manager) Principal(ctx context.Context) (*user.User, bool) {
	id := m.UserID(ctx)
	st := stateFrom(ctx)
	if id == 0 || st.loaded == nil || st.loaded.u == nil || st.loaded.u.ID != id {
		return nil, false
	}
	return st.loaded.u, true
}

// CacheUser writes the state copy of u as read from SQL by a request whose
// session came without one (Principal's ok false). The store refuses it
// when the copy is being changed or a copy of the same or a newer version
// exists, so a slow request can never bring back an older state. It costs
// one Redis script; nothing for the embedded store. Errors wrap
// ErrUnavailable; the caller may ignore them (the next request reads SQL
// again).
func (m *Manager) CacheUser(ctx context.Context, u *user.User) error {
	p, ok := m.opt.Store.(userStatePopulator)
	if !ok {
		return nil
	}
	cp := *u
	cp.PasswordHash = ""
	if _, err := p.PopulateUserState(ctx, &cp); err != nil {
		return fmt.Errorf("session: cache user: %w", err)
	}
	return nil
}

// Logout deletes the session from the store now (not at commit) and makes
// the response expire the cookie. If the delete fails the error (wrapping
// ErrUnavailable) is returned and the session is unchanged: the caller must
// not tell the user they are logged out.
func (m *Manager) Logout(ctx context.Context) error {
	if err := m.scs.Destroy(ctx); err != nil {
		return fmt.Errorf("session: logout: %w", err)
	}
	return nil
}

// loaded reports whether Middleware has loaded a session into ctx; scs
// panics when asked for values that were never loaded.
func loaded(ctx context.Context) bool {
	_, ok := ctx.Value(stateKey{}).(*requestState)
	return ok
}

// UserID returns the principal's user ID, or 0 for an anonymous request or
// one that did not pass through Middleware.
func (m *Manager) UserID(ctx context.Context) int64 {
	if !loaded(ctx) {
		return 0
	}
	return m.scs.GetInt64(ctx, keyUserID)
}

// Expired reports whether the request presented a session cookie that no
// longer works: the session passed its idle or absolute deadline (and was
// ended now), or it had already ended or been revoked.
func (m *Manager) Expired(ctx context.Context) bool { return stateFrom(ctx).expired }

// RotatedAway reports whether the request's session cookie named no
// session because a re-authentication of that session (Reauthenticate)
// gave it a new token less than a minute ago (the store's rotation
// marker) and the session under the new token still exists: the same
// request sent twice, this copy arriving after the first one rotated the
// token (issue 12.10). The request is anonymous, but its cookie was left
// alone, Expired is false, and nothing was signed out; the caller should
// say it was sent twice rather than send the person to sign in. Found on
// the not-found path only: a live session's load costs nothing more.
func (m *Manager) RotatedAway(ctx context.Context) bool { return stateFrom(ctx).rotatedAway }

// Info describes the current session for display; times are absolute.
type Info struct {
	UserID           int64
	Created          time.Time // login time
	AbsoluteDeadline time.Time // fixed at login
	IdleDeadline     time.Time // last recorded activity + idle timeout, capped by AbsoluteDeadline
	AuthenticatedAt  time.Time // last time the password was entered
	Remember         bool
}

// Info returns the current session's Info; ok is false when anonymous.
func (m *Manager) Info(ctx context.Context) (Info, bool) {
	id := m.UserID(ctx)
	if id == 0 {
		return Info{}, false
	}
	return Info{
		UserID:           id,
		Created:          time.UnixMilli(m.scs.GetInt64(ctx, keyCreated)),
		AbsoluteDeadline: m.absoluteDeadline(ctx),
		IdleDeadline:     m.storeDeadline(ctx),
		AuthenticatedAt:  time.Unix(m.scs.GetInt64(ctx, keyAuthAt), 0),
		Remember:         m.scs.GetBool(ctx, keyRemember),
	}, true
}

// CSRFToken returns the session's synchronizer token ("" when anonymous).
func (m *Manager) CSRFToken(ctx context.Context) string {
	if !loaded(ctx) {
		return ""
	}
	return m.scs.GetString(ctx, keyCSRF)
}

// ValidCSRF reports, in constant time, whether given equals the session's
// synchronizer token. It is false for anonymous requests and empty input
// (OWASP CSRF Prevention Cheat Sheet, synchronizer token pattern).
func (m *Manager) ValidCSRF(ctx context.Context, given string) bool {
	want := m.CSRFToken(ctx)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(given)) == 1
}

// record describes the session in ctx for the registry.
func (m *Manager) record(ctx context.Context) Record {
	return Record{
		Handle:           m.scs.GetString(ctx, keyHandle),
		UserID:           m.scs.GetInt64(ctx, keyUserID),
		Created:          time.UnixMilli(m.scs.GetInt64(ctx, keyCreated)),
		LastSeen:         time.Unix(m.scs.GetInt64(ctx, keySeen), 0),
		AbsoluteDeadline: m.absoluteDeadline(ctx),
		Expiry:           m.storeDeadline(ctx),
		IP:               m.scs.GetString(ctx, keyIP),
		UserAgent:        m.scs.GetString(ctx, keyUA),
		Remember:         m.scs.GetBool(ctx, keyRemember),
		Kind:             m.kindOf(ctx),
		DeviceName:       m.scs.GetString(ctx, keyDevice),
	}
}

// BindCredentials records in the session the account's credential epoch
// (store: users.sessions_valid_after, unix seconds) as read together with
// the password hash that was just verified, at login, re-authentication or
// a password change. The server ends any session whose bound epoch differs
// from the account's current one, so a login that verified the old
// password while a change was in flight is not honoured once it lands.
func (m *Manager) BindCredentials(ctx context.Context, epoch int64) {
	m.scs.Put(ctx, keyCred, epoch)
}

// CredentialsEpoch returns the epoch bound by BindCredentials; ok is false
// for a session that has none (anonymous, or bound by no one).
func (m *Manager) CredentialsEpoch(ctx context.Context) (epoch int64, ok bool) {
	if m.UserID(ctx) == 0 {
		return 0, false
	}
	epoch, ok = m.scs.Get(ctx, keyCred).(int64)
	return epoch, ok
}

// Handle returns the public handle of the current session ("" when
// anonymous).
func (m *Manager) Handle(ctx context.Context) string {
	if !loaded(ctx) {
		return ""
	}
	return m.scs.GetString(ctx, keyHandle)
}

// Registry returns the store's session registry (list and revoke by handle).
func (m *Manager) Registry() Registry { return m.opt.Store }

// AuthenticatedAt returns when the password was last entered in this
// session: at login or at the last re-authentication. Zero when anonymous.
func (m *Manager) AuthenticatedAt(ctx context.Context) time.Time {
	if m.UserID(ctx) == 0 {
		return time.Time{}
	}
	return time.Unix(m.scs.GetInt64(ctx, keyAuthAt), 0)
}

// Reauthenticate records that the password was just entered again (sudo
// mode) and issues a new session token, keeping the handle, the absolute
// deadline and everything else (OWASP ASVS 5.0 V7.2.4, V7.5.2).
//
// The token is rotated in the store at once and atomically (Store.Rotate):
// if the session was revoked since this request loaded it, the rotation
// fails, the session is destroyed in this request too (the response clears
// the cookie) and ErrGone is returned, so the caller must not perform the
// sensitive action. If instead a parallel re-authentication of the same
// session rotated it first (a double submission), ErrRotated is returned:
// the caller must not perform the action either, and this request writes
// nothing and leaves the cookie alone, so the browser keeps the winner's
// new token. Other errors wrap ErrUnavailable.
func (m *Manager) Reauthenticate(ctx context.Context) error {
	if m.UserID(ctx) == 0 {
		return errors.New("session: reauthenticate: no signed-in user")
	}
	st := stateFrom(ctx)
	if st.bearer {
		return m.reauthenticateBearer(ctx, st)
	}
	old := m.scs.Token(ctx)
	// scs.RenewToken deletes the old token through the store; KeepOnRenew
	// turns that delete into a no-op so that Rotate can move the session.
	if err := m.scs.RenewToken(context.WithValue(ctx, keepOnRenewKey{}, true)); err != nil {
		return fmt.Errorf("session: reauthenticate: %w", err)
	}
	if err := m.placeToken(ctx, m.UserID(ctx)); err != nil {
		return fmt.Errorf("session: reauthenticate: %w", err)
	}
	if err := m.opt.Store.Rotate(ctx, old, m.scs.Token(ctx)); err != nil {
		if errors.Is(err, ErrRotated) {
			st.rotated = true
		}
		if errors.Is(err, ErrGone) {
			st.expired = true
			if derr := m.scs.Destroy(ctx); derr != nil {
				return fmt.Errorf("session: reauthenticate: %w", derr)
			}
		}
		return fmt.Errorf("session: reauthenticate: %w", err)
	}
	st.loadedToken = m.scs.Token(ctx) // the new token now exists: the commit updates it
	now := m.opt.Clock()
	m.scs.Put(ctx, keyAuthAt, now.Unix())
	m.touch(ctx, now)
	return nil
}

// maxPlacementDraws bounds the draws of placeToken and newHandle: with
// RedisBuckets = 1024 the chance of needing more is e^-64.
const maxPlacementDraws = 64 * RedisBuckets

// placeToken renews the token just issued to userID's session until it
// falls in the user's bucket, when the store needs that (TokenPlacer,
// rediskeys.go); these renewals touch no store (KeepOnRenew).
func (m *Manager) placeToken(ctx context.Context, userID int64) error {
	p, ok := m.opt.Store.(TokenPlacer)
	if !ok {
		return nil
	}
	keep := context.WithValue(ctx, keepOnRenewKey{}, true)
	for range maxPlacementDraws {
		if p.Fits(userID, m.scs.Token(ctx)) {
			return nil
		}
		if err := m.scs.RenewToken(keep); err != nil {
			return err
		}
	}
	return errors.New("no token in the user's bucket")
}

// newHandle returns a new session handle for userID (16 random bytes,
// URL-safe base64), in the user's bucket when the store needs that.
func (m *Manager) newHandle(userID int64) (string, error) {
	p, _ := m.opt.Store.(TokenPlacer)
	for range maxPlacementDraws {
		h := randtoken.New(handleBytes)
		if p == nil || p.Fits(userID, h) {
			return h, nil
		}
	}
	return "", errors.New("no handle in the user's bucket")
}

func (m *Manager) clientIP(r *http.Request) string {
	if m.opt.ClientIP != nil {
		return m.opt.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeCookie sets the session cookie: HttpOnly, SameSite=Lax, Path=/, no
// Domain, Secure per Options; a browser-session cookie unless remember-me,
// in which case it persists until the absolute deadline.
func (m *Manager) writeCookie(w http.ResponseWriter, ctx context.Context, token string) {
	c := &http.Cookie{
		Name: m.cookie, Value: token, Path: "/",
		HttpOnly: true, Secure: m.opt.Secure, SameSite: http.SameSiteLaxMode,
	}
	if m.scs.GetBool(ctx, keyRemember) {
		deadline := m.absoluteDeadline(ctx)
		c.Expires = deadline.UTC()
		c.MaxAge = max(1, int(deadline.Sub(m.opt.Clock()).Seconds()))
	}
	w.Header().Add("Set-Cookie", c.String())
	w.Header().Set("Cache-Control", "no-store")
}

// clearCookie expires the session cookie with the same name and attributes.
func (m *Manager) clearCookie(w http.ResponseWriter) {
	c := &http.Cookie{
		Name: m.cookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, Secure: m.opt.Secure, SameSite: http.SameSiteLaxMode,
	}
	w.Header().Add("Set-Cookie", c.String())
	w.Header().Set("Cache-Control", "no-store")
}

// responseWriter commits the session before the first byte or header of the
// response is written, like scs's, but can still replace the response with
// an error page when the commit fails.
type responseWriter struct {
	http.ResponseWriter
	m         *Manager
	r         *http.Request
	committed bool
	failed    bool // the commit failed and an error page was written instead
}

func (sw *responseWriter) WriteHeader(code int) {
	if !sw.committed {
		sw.commit()
	}
	if sw.failed {
		return
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *responseWriter) Write(b []byte) (int, error) {
	if !sw.committed {
		sw.commit()
	}
	if sw.failed {
		return len(b), nil // the handler's body is dropped; the error page stands
	}
	return sw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (sw *responseWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

func (sw *responseWriter) commit() {
	sw.committed = true
	m, ctx, w := sw.m, sw.r.Context(), sw.ResponseWriter
	st := stateFrom(ctx)
	if st.rotated {
		return // the winner of a double submission owns the session and the cookie
	}
	switch m.scs.Status(ctx) {
	case scs.Modified:
		if m.UserID(ctx) == 0 {
			return // anonymous data is never stored
		}
		cctx := withRecord(ctx, m.record(ctx))
		var opts *createOpts
		if st.created {
			cctx = WithCreate(cctx) // only Login creates; every other write is update-only
			opts = &createOpts{limit: m.opt.MaxSessionsPerUser, user: st.loginUser}
			cctx = withCreateOpts(cctx, opts)
		}
		token, _, err := m.scs.Commit(cctx)
		switch {
		case errors.Is(err, ErrGone):
			if !st.bearer {
				m.clearCookie(w)
			}
		case err != nil:
			sw.fail(err)
		default:
			if !st.bearer {
				m.writeCookie(w, ctx, token)
			}
			if opts != nil && len(opts.revoked) > 0 && m.opt.OnLimitRevoked != nil {
				m.opt.OnLimitRevoked(sw.r, opts.revoked)
			}
		}
	case scs.Destroyed:
		if !st.bearer {
			m.clearCookie(w)
		}
	}
}

// fail replaces whatever the handler prepared with the error response.
func (sw *responseWriter) fail(err error) {
	sw.failed = true
	h := sw.ResponseWriter.Header()
	for _, k := range []string{"Location", "Set-Cookie", "Content-Type", "Content-Length", "Content-Disposition"} {
		h.Del(k)
	}
	sw.m.opt.OnError(sw.ResponseWriter, sw.r, err)
}
