package session_test

// The measured comparison of Latch's server-side sessions with JWT access
// tokens that docs/SESSIONS-VS-JWT.md reports (issue 10, "Session vs JWT,
// measured"): bytes on the wire per request, server cost per authenticated
// request, and the time from "kill" to refusal. github.com/golang-jwt/jwt/v5
// is imported here, in a test file, and nowhere in the product
// (`go list -deps ./cmd/latch | grep jwt` prints nothing).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/user"
)

// The claims every compared JWT carries: what Latch's session read gives a
// request (user id, role, session handle, login and expiry times), with
// values of a realistic size.
const (
	cmpUserID = 12345                    // sub
	cmpRole   = user.RoleUser            // role
	cmpHandle = "AbCdEfGhIjKlMnOpQrStUv" // sid: 22 characters, like Record.Handle
	cmpIssued = 1796083200               // iat: 2026-12-01T00:00:00Z, unix seconds
	// cmpLifetime is the access token lifetime: 15 minutes is the usual
	// choice for a JWT access token that cannot be revoked.
	cmpLifetime = 15 * time.Minute
)

// apiTokenPrefix is the fixed prefix of the native API's bearer token
// (issue 10: ≥ 256 bits from crypto/rand behind a recognisable prefix).
const apiTokenPrefix = "latch_at_"

// accessClaims is the JWT payload: role and sid (the session handle; "sid"
// is the OpenID Connect name for a session identifier) plus the registered
// sub, exp and iat (RFC 7519 §4.1).
type accessClaims struct {
	Role string `json:"role"`
	SID  string `json:"sid"`
	jwt.RegisteredClaims
}

// Validate is called by the parser after the registered claims checked
// out (jwt.ClaimsValidator): the application's part of claims validation.
func (c *accessClaims) Validate() error {
	if !user.Role(c.Role).Valid() {
		return fmt.Errorf("role %q", c.Role)
	}
	if len(c.SID) != len(cmpHandle) {
		return errors.New("sid")
	}
	if _, err := strconv.ParseInt(c.Subject, 10, 64); err != nil {
		return fmt.Errorf("sub: %w", err)
	}
	return nil
}

func newClaims(issued time.Time) *accessClaims {
	return &accessClaims{
		Role: string(cmpRole), SID: cmpHandle,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.Itoa(cmpUserID),
			IssuedAt:  jwt.NewNumericDate(issued),
			ExpiresAt: jwt.NewNumericDate(issued.Add(cmpLifetime)),
		},
	}
}

// jwtAlg is one signing algorithm with its keys.
type jwtAlg struct {
	name      string // as in the JWT header's alg
	method    jwt.SigningMethod
	signKey   any
	verifyKey any
	sigBytes  int // raw signature length in bytes
}

// jwtAlgs returns HS256 (a 256-bit shared secret), EdDSA (Ed25519) and,
// for reference, RS256 (RSA 2048, the usual identity-provider choice).
func jwtAlgs(tb testing.TB) []jwtAlg {
	tb.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return []jwtAlg{
		{"HS256", jwt.SigningMethodHS256, secret, secret, 32},
		{"EdDSA", jwt.SigningMethodEdDSA, edPriv, edPub, ed25519.SignatureSize},
		{"RS256", jwt.SigningMethodRS256, rsaKey, &rsaKey.PublicKey, 256},
	}
}

func (a jwtAlg) sign(tb testing.TB, c *accessClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(a.method, c).SignedString(a.signKey)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// parser is what a JWT-checking server runs per request: the algorithm
// pinned (no "alg" from the token is trusted), exp and iat required and
// checked against now, then accessClaims.Validate.
func (a jwtAlg) parser(now func() time.Time) *jwt.Parser {
	return jwt.NewParser(jwt.WithValidMethods([]string{a.name}), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(now))
}

// jwtPrincipal is what jwtAuth puts in the request context.
type jwtPrincipal struct {
	userID int64
	role   user.Role
	handle string
}

type jwtPrincipalKey struct{}

// jwtAuth is the JWT counterpart of Manager.Middleware: it verifies the
// `Authorization: Bearer <jwt>` header (signature, exp, iat, claims), asks
// deny (when not nil) whether the token's sid was revoked, and calls next
// with the principal in the context. A missing, invalid, expired or
// denied token gets 401; a deny-list failure 503.
func jwtAuth(p *jwt.Parser, key any, deny func(context.Context, string) (bool, error), next http.Handler) http.Handler {
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		var c accessClaims
		if _, err := p.ParseWithClaims(tok, &c, keyFunc); err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		if deny != nil {
			denied, err := deny(r.Context(), c.SID)
			if err != nil {
				http.Error(w, "deny-list unavailable", http.StatusServiceUnavailable)
				return
			}
			if denied {
				http.Error(w, "revoked token", http.StatusUnauthorized)
				return
			}
		}
		uid, _ := strconv.ParseInt(c.Subject, 10, 64) // Validate checked it
		ctx := context.WithValue(r.Context(), jwtPrincipalKey{}, jwtPrincipal{uid, user.Role(c.Role), c.SID})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// denyList is the store a JWT deployment must add to revoke before expiry:
// one Redis key per revoked sid that lives until the token's exp.
type denyList struct {
	pool   redisconn.Source
	prefix string
}

// revoked reports whether sid is on the list: one Redis EXISTS, bounded
// by one second as the session store bounds its calls.
func (d denyList) revoked(ctx context.Context, sid string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return redis.Bool(redisconn.Do(ctx, d.pool, func(c redis.Conn) (any, error) {
		return redis.DoContext(c, ctx, "EXISTS", d.prefix+"deny:"+sid)
	}))
}

// add puts sid on the list for ttl (the token's remaining lifetime).
func (d denyList) add(ctx context.Context, sid string, ttl time.Duration) error {
	_, err := redisconn.Do(ctx, d.pool, func(c redis.Conn) (any, error) {
		return redis.DoContext(c, ctx, "SET", d.prefix+"deny:"+sid, 1, "PX", ttl.Milliseconds())
	})
	return err
}

// fieldLineBytes is the size of one HTTP/1.1 header field line on the
// wire: name, ": ", value, CRLF (RFC 9112 §5).
func fieldLineBytes(name, value string) int {
	return len(name) + len(": ") + len(value) + len("\r\n")
}

// wireFieldBytes measures what adding the header name: value adds to a
// request as net/http writes it (HTTP/1.1), so fieldLineBytes is checked
// against the real serialisation.
func wireFieldBytes(t *testing.T, name, value string) int {
	t.Helper()
	size := func(set bool) int {
		req, err := http.NewRequest("GET", "https://latch.example/api/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		if set {
			req.Header.Set(name, value)
		}
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Len()
	}
	return size(true) - size(false)
}

// apiBearerToken returns a token of the native API's shape: the prefix
// and 32 random bytes (256 bits) in unpadded base64url (43 characters).
func apiBearerToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return apiTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// newCompareManager is a Manager on real Redis with the timeouts of the
// other benchmarks, and its store.
func newCompareManager(tb testing.TB, pool redisconn.Source, prefix string) (*session.Manager, *session.RedisStore) {
	st := session.NewRedisStore(pool, prefix, time.Second)
	return session.NewManager(session.Options{
		Store:       st,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			tb.Error(err)
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		},
	}), st
}

// cmpUser is the account the session side signs in: the same user id and
// role as the JWT claims, with a state copy version so that the session
// read returns the principal from Redis (Manager.Principal).
func cmpUser() *user.User {
	return &user.User{ID: cmpUserID, Email: "bench@example.com", Name: "Bench", Role: cmpRole,
		CreatedAt: time.Unix(cmpIssued, 0).UTC(), StateVersion: 1}
}

// loginHandler and principalHandler are the two routes of the session
// side: sign in as cmpUser, and a read-only page that needs the principal
// (id and role) and answers 401 without it.
func loginHandler(tb testing.TB, mgr *session.Manager) http.Handler {
	return mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.LoginUser(r.Context(), cmpUser(), false); err != nil {
			tb.Error(err)
		}
	}))
}

func principalHandler(mgr *session.Manager) http.Handler {
	return mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := mgr.Principal(r.Context())
		if !ok || u.ID != cmpUserID || u.Role != cmpRole {
			http.Error(w, "signed out", http.StatusUnauthorized)
		}
	}))
}

// signIn runs the login route and returns the session cookie it set.
func signIn(tb testing.TB, login http.Handler, cookieName string) *http.Cookie {
	tb.Helper()
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	tb.Fatal("no session cookie after login")
	return nil
}

// TestSessionVsJWTWireBytes pins the bytes each credential adds to every
// request (one HTTP/1.1 header field line, as net/http writes it): Latch's
// session cookie, the native API's bearer token, and a JWT with the same
// claims, signed HS256, EdDSA and RS256, as a bearer header and as the
// session cookie. The sizes are checked against their formula
// (base64url(header).base64url(claims).base64url(signature)) and against
// the real token lengths of a signed-in session.
func TestSessionVsJWTWireBytes(t *testing.T) {
	cookieName := session.CookieName(true)
	if cookieName != "__Host-latch_session" {
		t.Fatalf("cookie name %q", cookieName)
	}

	// The real session token and handle of a login on real Redis.
	pool := sessiontest.RedisPool(t)
	mgr, st := newCompareManager(t, pool, sessiontest.Prefix(t))
	token := signIn(t, loginHandler(t, mgr), mgr.CookieName()).Value
	recs, err := st.UserSessions(t.Context(), cmpUserID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("UserSessions = %v, %v", recs, err)
	}
	if len(token) != 43 || len(recs[0].Handle) != len(cmpHandle) {
		t.Fatalf("session token %d characters, handle %d; the comparison assumes 43 and %d",
			len(token), len(recs[0].Handle), len(cmpHandle))
	}
	bearer := apiBearerToken()

	const wantClaims = `{"role":"user","sid":"AbCdEfGhIjKlMnOpQrStUv","sub":"12345","exp":1796084100,"iat":1796083200}`
	enc := base64.RawURLEncoding.EncodedLen
	type variant struct {
		name, header, value string
		formula             int // the header line size from the formula
		want                int // the pinned number the doc reports
	}
	variants := []variant{
		{"latch session cookie", "Cookie", cookieName + "=" + token,
			len("Cookie: ") + len(cookieName) + len("=") + 43 + 2, 74},
		{"latch API bearer", "Authorization", "Bearer " + bearer,
			len("Authorization: Bearer ") + len(apiTokenPrefix) + 43 + 2, 76},
	}
	wantJWT := map[string][2]int{ // bearer, cookie header line bytes
		"HS256": {231, 238}, "EdDSA": {274, 281}, "RS256": {530, 537},
	}
	for _, a := range jwtAlgs(t) {
		tok := a.sign(t, newClaims(time.Unix(cmpIssued, 0)))
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("%s: %d parts", a.name, len(parts))
		}
		head, _ := base64.RawURLEncoding.DecodeString(parts[0])
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if want := `{"alg":"` + a.name + `","typ":"JWT"}`; string(head) != want {
			t.Errorf("%s header %s, want %s", a.name, head, want)
		}
		if string(claims) != wantClaims {
			t.Errorf("%s claims %s, want %s", a.name, claims, wantClaims)
		}
		jwtLen := enc(len(`{"alg":"HS256","typ":"JWT"}`)) + 1 + enc(len(wantClaims)) + 1 + enc(a.sigBytes)
		if len(tok) != jwtLen {
			t.Errorf("%s JWT is %d bytes, formula %d", a.name, len(tok), jwtLen)
		}
		w := wantJWT[a.name]
		variants = append(variants,
			variant{"JWT " + a.name + " bearer", "Authorization", "Bearer " + tok,
				len("Authorization: Bearer ") + jwtLen + 2, w[0]},
			variant{"JWT " + a.name + " cookie", "Cookie", cookieName + "=" + tok,
				len("Cookie: ") + len(cookieName) + len("=") + jwtLen + 2, w[1]})
	}
	for _, v := range variants {
		line := fieldLineBytes(v.header, v.value)
		wire := wireFieldBytes(t, v.header, v.value)
		if line != v.formula || wire != v.formula || v.formula != v.want {
			t.Errorf("%s: field line %d bytes, on the wire %d, formula %d, pinned %d", v.name, line, wire, v.formula, v.want)
		}
		t.Logf("%-22s %4d bytes per request", v.name, wire)
	}
}

// processCPU returns the CPU time (user + system) this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSessionVsJWT measures, in one run, the server cost of one
// authenticated read-only request (a new request through the auth
// middleware to a handler that needs the principal):
//
//	baseline:          the harness alone (request, recorder, no auth);
//	latch-redis:       Manager.Middleware loading the session and the
//	                   account's state copy from real Redis (one script);
//	jwt-<alg>:         jwtAuth verifying a bearer JWT (parse, signature,
//	                   exp/iat, claims), no store;
//	jwt-<alg>+denylist: the same plus one Redis EXISTS of the sid's deny key.
//
// Metrics: wire-B/req is the credential's header line (see
// TestSessionVsJWTWireBytes), redis-cmds/op the Redis commands sent per
// request, cpu-ns/op the CPU time of this process per request (user +
// system, all its threads, GC included; not Redis's own CPU: a request
// that waits for Redis spends wall time, not application CPU), and
// x_vs_redis the variant's ns/op divided by latch-redis's from
// the same run (below 1: cheaper than the session read).
func BenchmarkSessionVsJWT(b *testing.B) {
	cookieName := session.CookieName(true)
	var redisNs float64
	nsPerOp := func(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }
	ratio := func(b *testing.B) {
		if redisNs > 0 {
			b.ReportMetric(nsPerOp(b)/redisNs, "x_vs_redis")
		}
	}

	b.Run("baseline", func(b *testing.B) {
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
		b.ReportAllocs()
		cpu := processCPU(b)
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/me", nil))
		}
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(0, "wire-B/req")
	})

	b.Run("latch-redis", func(b *testing.B) {
		pool, counter := sessiontest.CountingPool(b)
		mgr, _ := newCompareManager(b, pool, sessiontest.Prefix(b))
		read := principalHandler(mgr)
		cookie := signIn(b, loginHandler(b, mgr), mgr.CookieName())
		counter.Reset()
		b.ReportAllocs()
		cpu := processCPU(b)
		for b.Loop() {
			req := httptest.NewRequest("GET", "/profile", nil)
			req.AddCookie(cookie)
			rec := httptest.NewRecorder()
			read.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		redisNs = nsPerOp(b)
		b.ReportMetric(float64(len(counter.Commands()))/float64(b.N), "redis-cmds/op")
		b.ReportMetric(float64(fieldLineBytes("Cookie", cookieName+"="+cookie.Value)), "wire-B/req")
		ratio(b)
	})

	algs := jwtAlgs(b)
	for _, deny := range []bool{false, true} {
		for _, a := range algs {
			name := "jwt-" + a.name
			if deny {
				if a.name == "RS256" {
					continue // the deny-list adds the same Redis read whatever the algorithm
				}
				name += "+denylist"
			}
			b.Run(name, func(b *testing.B) {
				pool, counter := sessiontest.CountingPool(b)
				var check func(context.Context, string) (bool, error)
				if deny {
					check = denyList{pool, sessiontest.Prefix(b)}.revoked
				}
				auth := jwtAuth(a.parser(time.Now), a.verifyKey, check, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					p, ok := r.Context().Value(jwtPrincipalKey{}).(jwtPrincipal)
					if !ok || p.userID != cmpUserID || p.role != cmpRole {
						http.Error(w, "signed out", http.StatusUnauthorized)
					}
				}))
				header := "Bearer " + a.sign(b, newClaims(time.Now()))
				counter.Reset()
				b.ReportAllocs()
				cpu := processCPU(b)
				for b.Loop() {
					req := httptest.NewRequest("GET", "/api/v1/me", nil)
					req.Header.Set("Authorization", header)
					rec := httptest.NewRecorder()
					auth.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(len(counter.Commands()))/float64(b.N), "redis-cmds/op")
				b.ReportMetric(float64(fieldLineBytes("Authorization", header)), "wire-B/req")
				ratio(b)
			})
		}
	}
}

// TestRevocationLatchNextRequest shows the time from "kill" to refusal of
// a Latch session, counted in requests: two instances (Managers) share one
// Redis; the session signed in on one answers on the other until an
// operator revokes it through the registry, and the very next request is
// refused.
func TestRevocationLatchNextRequest(t *testing.T) {
	pool := sessiontest.RedisPool(t)
	prefix := sessiontest.Prefix(t)
	mgrA, regA := newCompareManager(t, pool, prefix)
	mgrB, _ := newCompareManager(t, pool, prefix)
	cookie := signIn(t, loginHandler(t, mgrA), mgrA.CookieName())
	readB := principalHandler(mgrB)
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/profile", nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		readB.ServeHTTP(rec, req)
		return rec
	}
	for i := range 3 {
		if rec := get(); rec.Code != http.StatusOK {
			t.Fatalf("request %d before the kill: status %d", i+1, rec.Code)
		}
	}
	recs, err := regA.UserSessions(t.Context(), cmpUserID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("UserSessions = %v, %v", recs, err)
	}
	if _, found, err := regA.Revoke(t.Context(), recs[0].Handle); err != nil || !found {
		t.Fatalf("Revoke = %v, %v", found, err)
	}
	accepted := 0
	rec := get()
	for rec.Code == http.StatusOK && accepted < 100 {
		accepted++
		rec = get()
	}
	if accepted != 0 {
		t.Fatalf("%d requests accepted after the kill, want 0 (the next request is refused)", accepted)
	}
	// Refused because the session is gone (not merely its principal): the
	// instance also tells the browser to drop the cookie.
	cleared := false
	for _, c := range rec.Result().Cookies() {
		cleared = cleared || c.Name == mgrB.CookieName() && c.MaxAge < 0
	}
	if rec.Code != http.StatusUnauthorized || !cleared {
		t.Fatalf("the request after the kill: status %d, cookie cleared %v; want 401 and cleared", rec.Code, cleared)
	}
}

// TestRevocationJWTUntilExpiry shows the same for a JWT without a
// deny-list: there is nothing to revoke at the verifier, so with one
// request a minute after a kill one minute into a 15-minute token, the
// next 14 requests are accepted and the first refusal comes at exp.
func TestRevocationJWTUntilExpiry(t *testing.T) {
	for _, a := range jwtAlgs(t)[:2] {
		t.Run(a.name, func(t *testing.T) {
			issued := time.Unix(cmpIssued, 0)
			now := issued
			auth := jwtAuth(a.parser(func() time.Time { return now }), a.verifyKey, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			header := "Bearer " + a.sign(t, newClaims(issued))
			get := func() int {
				req := httptest.NewRequest("GET", "/api/v1/me", nil)
				req.Header.Set("Authorization", header)
				rec := httptest.NewRecorder()
				auth.ServeHTTP(rec, req)
				return rec.Code
			}
			now = issued.Add(time.Minute) // the kill: a JWT verifier has no call for it
			accepted := 0
			for get() == http.StatusOK && accepted <= 100 {
				accepted++
				now = now.Add(time.Minute)
			}
			if want := 14; accepted != want {
				t.Fatalf("%d requests (one a minute) accepted after the kill, want %d", accepted, want)
			}
			if exp := issued.Add(cmpLifetime); !now.Equal(exp) {
				t.Fatalf("first refusal at %v, want exp %v", now, exp)
			}
		})
	}
}

// TestRevocationJWTDenyList shows that revoking a JWT before its expiry
// needs a deny-list in a shared store (here Redis): the kill writes the
// sid's key for the token's remaining lifetime, and the next request,
// which now reads that key, is refused.
func TestRevocationJWTDenyList(t *testing.T) {
	pool := sessiontest.RedisPool(t)
	deny := denyList{pool, sessiontest.Prefix(t)}
	a := jwtAlgs(t)[0]
	issued := time.Unix(cmpIssued, 0)
	now := issued
	auth := jwtAuth(a.parser(func() time.Time { return now }), a.verifyKey, deny.revoked, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	header := "Bearer " + a.sign(t, newClaims(issued))
	get := func() int {
		req := httptest.NewRequest("GET", "/api/v1/me", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		auth.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("before the kill: status %d", code)
	}
	now = issued.Add(time.Minute)
	remaining := issued.Add(cmpLifetime).Sub(now)
	if err := deny.add(t.Context(), cmpHandle, remaining); err != nil {
		t.Fatal(err)
	}
	if code := get(); code != http.StatusUnauthorized {
		t.Fatalf("the request after the kill: status %d, want 401", code)
	}
	conn := pool.Get()
	defer conn.Close()
	pttl, err := redis.Int64(redis.DoContext(conn, t.Context(), "PTTL", deny.prefix+"deny:"+cmpHandle))
	if err != nil || pttl <= 0 || pttl > remaining.Milliseconds() {
		t.Fatalf("deny key PTTL %d ms (%v), want in (0, %d]", pttl, err, remaining.Milliseconds())
	}
}
