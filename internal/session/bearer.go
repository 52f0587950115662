package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/randtoken"
	"github.com/latch/latch/internal/user"
)

// App sessions (issue 10): a native app signs in with its password and gets
// an opaque bearer token, "latch_at_" followed by an scs session token (32
// bytes from crypto/rand, 256 bits, 43 URL-safe characters). The session
// lives in the same store and registry as browser sessions, under the same
// key a cookie's session would have: the SHA-256 of the random part
// (HashToken; the store never sees the raw token), so a bearer request is
// authenticated by ONE store read, the same FindCtx (on Redis the same
// script that also reads the account's state copy) as a browser request,
// and every revocation path (logout, admin kill, disabling, password change
// or reset, revoke all, the per-user limit) ends it on every instance at
// once. The session records Kind "app" and the device name; its idle and
// absolute timeouts are Options.APIIdleTimeout and APIAbsoluteTimeout, and
// it slides with the same bounded-write rule as a browser session (a
// request within the refresh interval of the last recorded activity writes
// nothing).
//
// Isolation: BearerMiddleware reads only the Authorization header and loads
// only app sessions; Middleware reads only the cookie and loads only
// browser sessions. A bearer token is never written to or cleared from a
// cookie.

// BearerPrefix starts every app session token, so that secret scanners
// (GitHub secret scanning, gitleaks, trufflehog custom patterns) can find a
// leaked one: the pattern is `latch_at_[A-Za-z0-9_-]{43}`.
const BearerPrefix = "latch_at_"

// Default timeouts of app sessions (LATCH_API_IDLE_TIMEOUT,
// LATCH_API_ABSOLUTE_TIMEOUT): 30 days idle, 90 days in all.
const (
	DefaultAPIIdleTimeout     = 720 * time.Hour
	DefaultAPIAbsoluteTimeout = 2160 * time.Hour
)

// ErrNoBearer means an API request carried no usable bearer token: none,
// a malformed one, or one of no live app session (unknown, expired,
// revoked). Its kind is fail.Unauthorized; the API answers 401 with
// WWW-Authenticate (RFC 6750 §3).
var ErrNoBearer = fail.New(fail.Unauthorized, "session: no valid bearer token")

// ErrAuthorizationTwice means an API request carried more than one
// Authorization header: RFC 6750 §3.1 calls a request with more than one
// credential an invalid_request, answered 400, rather than guessing which
// one counts. Its kind is fail.Invalid.
var ErrAuthorizationTwice = fail.New(fail.Invalid, "session: more than one Authorization header")

// bearerToken returns the scs token inside the Authorization header of r:
// presented is true when the header offers a bearer token ("Bearer" and a
// credential; RFC 9110 §11.1: the scheme is case-insensitive); ok is false
// when none is offered or the one offered is not "latch_at_<43
// characters>". No header, another scheme (Basic, Token) or an empty
// Bearer offer no token (presented false: RFC 6750 §3.1 gives such a
// request no error code). More than one Authorization header is
// ErrAuthorizationTwice.
func bearerToken(r *http.Request) (token string, presented, ok bool, err error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) > 1:
		return "", false, false, ErrAuthorizationTwice
	case len(values) == 0:
		return "", false, false, nil
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	cred = strings.TrimSpace(cred)
	if !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return "", false, false, nil
	}
	raw, found := strings.CutPrefix(cred, BearerPrefix)
	if !found || !randtoken.Valid(raw, tokenBytes) {
		return "", true, false, nil
	}
	return raw, true, true, nil
}

// BearerMiddleware is Middleware for the JSON API: it loads the app
// session named by the request's `Authorization: Bearer latch_at_…`
// header (never a cookie), enforces the app session timeouts, calls next,
// and commits changes before the first byte of the response, without ever
// setting or clearing a cookie. The cost per request is Middleware's: one
// store read, and an update-only write only when the recorded activity is
// older than the refresh interval. A malformed token, or the token of a
// browser session (its random part is a cookie's value), is treated as no
// session: the request goes on anonymous with BearerRefused true. Another
// scheme or an empty Bearer is no token (anonymous, BearerRefused false).
// A store failure, or more than one Authorization header
// (ErrAuthorizationTwice), is passed to OnError before next runs.
func (m *Manager) BearerMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Authorization")
		token, presented, ok, err := bearerToken(r)
		if err != nil {
			m.opt.OnError(w, r, err)
			return
		}
		ctx, st, err := m.load(r, token, KindApp) // "" loads nothing from the store
		if err != nil {
			m.opt.OnError(w, r, err)
			return
		}
		if presented && (!ok || st.loadedToken == "") {
			st.expired = true
		}
		m.serve(w, r.WithContext(ctx), next)
	})
}

// anonymous replaces the session loaded into st's request by none (the
// request goes on anonymous; the stored session is not touched).
func (m *Manager) anonymous(parent context.Context, st *requestState) (context.Context, error) {
	ctx, err := m.scs.Load(parent, "")
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	st.loadedToken = ""
	st.loaded = &loadedUser{}
	return context.WithValue(ctx, stateKey{}, st), nil
}

// kindOf is the Kind of the session loaded into ctx.
func (m *Manager) kindOf(ctx context.Context) Kind {
	return Kind(m.scs.GetString(ctx, keyKind))
}

// BearerRefused reports whether an API request offered a bearer token
// (bearerToken) that authenticates no app session (malformed, unknown,
// expired, revoked, or a browser session's token): the API answers it with
// error="invalid_token" (RFC 6750 §3.1). No Authorization header, another
// scheme or an empty Bearer is not refused: no token was offered.
func (m *Manager) BearerRefused(ctx context.Context) bool { return stateFrom(ctx).expired }

// LoginApp makes the request's (BearerMiddleware) session an app session of
// account u, as LoginUser does for a browser (a new token, the account's
// state copy and the per-user limit written with it in one store step when
// the response starts), with device as its device name (ValidDeviceName;
// "" becomes DefaultDeviceName) and the app session timeouts. The token is
// BearerTokenOf(ctx) after it returns. Errors wrap ErrUnavailable; an
// Internal error when the request did not pass through BearerMiddleware.
func (m *Manager) LoginApp(ctx context.Context, u *user.User, device string) error {
	if !stateFrom(ctx).bearer {
		return errors.New("session: login app: not a bearer request (BearerMiddleware)")
	}
	if device == "" {
		device = DefaultDeviceName
	}
	if err := m.login(ctx, u.ID, false, KindApp, device); err != nil {
		return err
	}
	cp := *u
	cp.PasswordHash = ""
	stateFrom(ctx).loginUser = &cp
	return nil
}

// BearerTokenOf returns the bearer token of the app session just created
// by LoginApp in ctx ("latch_at_" and 43 characters), to be given to the
// app once; "" for any other request. It is never logged or stored.
func (m *Manager) BearerTokenOf(ctx context.Context) string {
	st := stateFrom(ctx)
	if !st.bearer || !st.created {
		return ""
	}
	return BearerPrefix + m.scs.Token(ctx)
}

// Kind returns the Kind of the request's session (KindBrowser when
// anonymous).
func (m *Manager) Kind(ctx context.Context) Kind {
	if !loaded(ctx) {
		return KindBrowser
	}
	return m.kindOf(ctx)
}

// reauthenticateBearer is Reauthenticate for an app session: the password
// was entered again, recorded now with an update-only write that fails
// with ErrGone when the session was revoked since it was loaded (the
// caller then must not act). The token is not rotated: it is not a cookie
// (no fixation through a browser), and rotating it would sign the app out.
func (m *Manager) reauthenticateBearer(ctx context.Context, st *requestState) error {
	now := m.opt.Clock()
	m.scs.Put(ctx, keyAuthAt, now.Unix())
	m.touch(ctx, now)
	if _, _, err := m.scs.Commit(withRecord(ctx, m.record(ctx))); err != nil {
		if errors.Is(err, ErrGone) {
			st.expired = true
			_ = m.scs.Destroy(ctx) // gone already: nothing is written back
		}
		return fmt.Errorf("session: reauthenticate: %w", err)
	}
	return nil
}

// DeviceName returns the device name of the request's app session ("" for
// a browser session or when anonymous).
func (m *Manager) DeviceName(ctx context.Context) string {
	if !loaded(ctx) {
		return ""
	}
	return m.scs.GetString(ctx, keyDevice)
}
