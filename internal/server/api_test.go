package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/web"
)

// apiCall sends method path with body (JSON text, "" for none) and the
// bearer token (if any) to a's server and returns the response and body.
func apiCall(t *testing.T, a *testApp, method, path, token, ctype, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// apiSignInAs signs in through the API and returns the bearer token.
func apiSignInAs(t *testing.T, a *testApp, email, pw string) string {
	t.Helper()
	res, body := apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json",
		`{"email":"`+email+`","password":"`+pw+`","device_name":"Test phone"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("sign in: %d %s", res.StatusCode, body)
	}
	var out signInResponse
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Token, "latch_at_") || len(out.Token) != len("latch_at_")+43 || out.TokenType != "Bearer" {
		t.Fatalf("sign in: token %d characters, type %q", len(out.Token), out.TokenType)
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("sign in set cookies: %q", sc)
	}
	return out.Token
}

// wantProblem checks that res is an RFC 9457 problem with status want.
func wantProblem(t *testing.T, what string, res *http.Response, body string, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s: status %d, want %d: %s", what, res.StatusCode, want, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
	var p problem
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Status != want || p.Title == "" || p.Type == "" || p.Detail == "" {
		t.Errorf("%s: not a complete problem (%v): %s", what, err, body)
	}
}

// TestAPIMalformedInput sends every kind of malformed input to the API:
// each is a 4xx problem, never a 500.
func TestAPIMalformedInput(t *testing.T) {
	a := newTestApp(t)
	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	big := `{"email":"bob@example.com","password":"` + strings.Repeat("x", 20<<10) + `"}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		auth                            bool
		want                            int
	}{
		{"no content type", "POST", "/api/v1/sessions", "", `{"email":"a@b.c","password":"x"}`, false, 415},
		{"form content type", "POST", "/api/v1/sessions", "application/x-www-form-urlencoded", "email=a&password=b", false, 415},
		{"bad content type", "POST", "/api/v1/sessions", "application/json; charset", `{}`, false, 415},
		{"empty body", "POST", "/api/v1/sessions", "application/json", "", false, 400},
		{"not JSON", "POST", "/api/v1/sessions", "application/json", "email=bob", false, 400},
		{"truncated JSON", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com"`, false, 400},
		{"array", "POST", "/api/v1/sessions", "application/json", `["bob@example.com"]`, false, 400},
		{"wrong type", "POST", "/api/v1/sessions", "application/json", `{"email":1,"password":"x"}`, false, 400},
		{"unknown field", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob","remember":true}`, false, 400},
		{"trailing data", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob"} {}`, false, 400},
		{"trailing garbage", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob"}x`, false, 400},
		{"oversized body", "POST", "/api/v1/sessions", "application/json", big, false, 413},
		{"empty fields", "POST", "/api/v1/sessions", "application/json", `{"email":"","password":""}`, false, 422},
		{"control character in device name", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob","device_name":"a\u0001b"}`, false, 422},
		// The form chain's cleanText, for every string field of every body.
		{"NUL in email", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com\u0000","password":"pw-bob"}`, false, 400},
		{"NUL in password", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob\u0000"}`, false, 400},
		{"NUL in device name", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob","device_name":"a\u0000b"}`, false, 400},
		{"invalid UTF-8 in password", "POST", "/api/v1/sessions", "application/json", "{\"email\":\"bob@example.com\",\"password\":\"pw-bob\xff\"}", false, 400},
		{"invalid UTF-8 in device name", "POST", "/api/v1/sessions", "application/json", "{\"email\":\"bob@example.com\",\"password\":\"pw-bob\",\"device_name\":\"\xc3\"}", false, 400},
		{"NUL in reauth password", "POST", "/api/v1/reauth", "application/json", `{"password":"pw-bob\u0000"}`, true, 400},
		{"NUL in current password", "POST", "/api/v1/account/password", "application/json", `{"current_password":"pw-bob\u0000","new_password":"correct horse battery staple"}`, true, 400},
		{"NUL in new password", "POST", "/api/v1/account/password", "application/json", `{"current_password":"pw-bob","new_password":"zebra\u0000correct horse battery staple"}`, true, 400},
		{"invalid UTF-8 in new password", "POST", "/api/v1/account/password", "application/json", "{\"current_password\":\"pw-bob\",\"new_password\":\"zebra\xffcorrect horse battery staple\"}", true, 400},
		// Unicode format characters (category Cf) spoof names on the devices page.
		{"RLO in device name", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob","device_name":"phone\u202egnp.exe"}`, false, 422},
		{"ZWSP in device name", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob","device_name":"Alice\u200b's phone"}`, false, 422},
		{"BOM in device name", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob","device_name":"\ufeffphone"}`, false, 422},
		{"65 characters of device name", "POST", "/api/v1/sessions", "application/json", `{"email":"bob@example.com","password":"pw-bob","device_name":"` + strings.Repeat("한", 65) + `"}`, false, 422},
		{"NUL in path", "GET", "/api/v1/me%00", "", "", true, 400},
		{"unknown route", "GET", "/api/v1/nothing", "", "", true, 404},
		{"wrong method", "PUT", "/api/v1/me", "", "", true, 405},
		{"reauth unknown field", "POST", "/api/v1/reauth", "application/json", `{"password":"pw-bob","x":1}`, true, 400},
		{"reauth empty password", "POST", "/api/v1/reauth", "application/json", `{"password":""}`, true, 422},
		{"password change not JSON", "POST", "/api/v1/account/password", "application/json", `{`, true, 400},
		{"password change empty", "POST", "/api/v1/account/password", "application/json", `{"current_password":"","new_password":""}`, true, 422},
		{"revoke malformed handle", "DELETE", "/api/v1/sessions/not-a-handle", "", "", true, 404}, // signed in just now: within the re-authentication window
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := ""
			if tc.auth {
				tok = token
			}
			res, body := apiCall(t, a, tc.method, tc.path, tok, tc.ctype, tc.body)
			wantProblem(t, tc.name, res, body, tc.want)
			if strings.Contains(body, "pw-bob") || strings.Contains(body, "xxxxxxxx") {
				t.Errorf("the problem quotes the request body: %s", body)
			}
		})
	}
}

// TestAPIIsolation: a cookie never authenticates the API, a bearer token
// never a page, and the API sets no cookie and needs no CSRF token.
func TestAPIIsolation(t *testing.T) {
	a := newTestApp(t)
	browser := a.login("bob@example.com", false)
	// The browser's cookie on the API: 401, no challenge error code needed.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", a.ts.URL+"/api/v1/me", nil)
	res, err := browser.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantProblem(t, "cookie on /api/v1/me", res, string(body), http.StatusUnauthorized)
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="latch"` {
		t.Errorf("WWW-Authenticate %q", got)
	}

	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	// The bearer token on a page: not honoured (sent to log in).
	req, _ = http.NewRequestWithContext(t.Context(), "GET", a.ts.URL+"/profile", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err = a.newClient(firefoxAgent).http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("bearer on /profile: %d %q, want 303 to /login", res.StatusCode, res.Header.Get("Location"))
	}
	// The random part of the token as a session cookie: not honoured either.
	req, _ = http.NewRequestWithContext(t.Context(), "GET", a.ts.URL+"/profile", nil)
	req.AddCookie(&http.Cookie{Name: a.srv.sessions.CookieName(), Value: strings.TrimPrefix(token, "latch_at_")})
	res, err = a.newClient(firefoxAgent).http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("app token as a cookie on /profile: %d, want 303", res.StatusCode)
	}
	// The browser's cookie value as a bearer token: refused.
	var cookie string
	for _, c := range browser.http.Jar.Cookies(mustURL(t, a.ts.URL)) {
		if c.Name == a.srv.sessions.CookieName() {
			cookie = c.Value
		}
	}
	res2, body2 := apiCall(t, a, "GET", "/api/v1/me", "latch_at_"+cookie, "", "")
	wantProblem(t, "browser token as bearer", res2, body2, http.StatusUnauthorized)
	if got := res2.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q, want invalid_token", got)
	}
	// Both sessions still work for their own channel.
	if res, _ := browser.get("/profile"); res.StatusCode != http.StatusOK {
		t.Errorf("browser after the probes: %d", res.StatusCode)
	}
	// A cross-site POST with the token, no Origin checks and no CSRF token: fine.
	req, _ = http.NewRequestWithContext(t.Context(), "POST", a.ts.URL+"/api/v1/reauth", strings.NewReader(`{"password":"pw-bob"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://elsewhere.example")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("reauth with the token from another site: %d, cookies %q; want 204 and none", res.StatusCode, res.Header.Values("Set-Cookie"))
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS answered with no LATCH_API_CORS_ORIGINS: %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
	if ev, ok := a.audit.last(audit.Reauthenticated); !ok || ev.Via != audit.ViaApp {
		t.Errorf("reauth audit event %+v, want via app", ev)
	}
}

// TestAPICORS: only the configured origins, exactly.
func TestAPICORS(t *testing.T) {
	a := newTestApp(t)
	a.srv.corsOrigins = []string{"https://app.example.com"}
	for _, tc := range []struct {
		origin string
		want   string
	}{{"https://app.example.com", "https://app.example.com"}, {"https://app.example.com.evil", ""}, {"http://app.example.com", ""}} {
		req, _ := http.NewRequestWithContext(t.Context(), "OPTIONS", a.ts.URL+"/api/v1/me", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != tc.want {
			t.Errorf("preflight from %s: %d, Allow-Origin %q, want 204 %q", tc.origin, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), tc.want)
		}
		if tc.want != "" && !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight: Allow-Headers %q", res.Header.Get("Access-Control-Allow-Headers"))
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("credentials mode allowed")
		}
	}
}

// TestAPIOpenAPIMatchesRoutes checks web/openapi.json against the router:
// every /api route is documented and every documented operation exists.
func TestAPIOpenAPIMatchesRoutes(t *testing.T) {
	a := newTestApp(t)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Servers []struct{ URL string }    `json:"servers"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(web.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Fatalf("openapi %q, servers %+v", doc.OpenAPI, doc.Servers)
	}
	var documented, routed []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" /api/v1"+p)
		}
	}
	err := chi.Walk(a.srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/api/") {
			routed = append(routed, method+" "+strings.TrimSuffix(route, "/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Errorf("OpenAPI document and routes differ:\ndocumented %q\nrouted     %q", documented, routed)
	}
	a.srv.openAPI = web.OpenAPI
	res, body := apiCall(t, a, "GET", "/api/v1/openapi.json", "", "", "")
	if res.StatusCode != http.StatusOK || body != string(web.OpenAPI) {
		t.Errorf("GET /api/v1/openapi.json: %d, %d bytes", res.StatusCode, len(body))
	}
}

// TestAPIUnavailableIs503Problem: a store that cannot be reached, a
// revocation no Redis replica confirmed, or a full hashing pool, is a 503
// problem with Retry-After and the pages' words, as on the pages.
func TestAPIUnavailableIs503Problem(t *testing.T) {
	a := newTestApp(t)
	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	a.sessions.mu.Lock()
	a.sessions.err = session.ErrUnavailable
	a.sessions.mu.Unlock()
	res, body := apiCall(t, a, "GET", "/api/v1/sessions", token, "", "")
	wantProblem(t, "list with the registry down", res, body, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if want := "Latch cannot reach its session store right now, so what you asked may not have been done."; !strings.Contains(body, want) {
		t.Errorf("list with the registry down: detail lacks %q: %s", want, body)
	}

	a.sessions.mu.Lock()
	a.sessions.err = nil
	a.sessions.mu.Unlock()
	other := a.login("bob@example.com", false)
	a.sessions.mu.Lock()
	a.sessions.err = fmt.Errorf("session: redis revoke: %w: %w", session.ErrUnavailable, session.ErrNotReplicated)
	a.sessions.mu.Unlock()
	res, body = apiCall(t, a, "DELETE", "/api/v1/sessions/"+other.handle, token, "", "")
	wantProblem(t, "revoke that no replica confirmed", res, body, http.StatusServiceUnavailable)
	if want := "Latch could not confirm that a second Redis server has this change, so it may not have taken effect."; !strings.Contains(body, want) {
		t.Errorf("revoke that no replica confirmed: detail lacks %q: %s", want, body)
	}
	a.sessions.mu.Lock()
	a.sessions.err = nil
	a.sessions.mu.Unlock()

	a.hasher.mu.Lock()
	a.hasher.dummyErr = password.ErrBusy
	a.hasher.mu.Unlock()
	res, body = apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", `{"email":"nobody@example.com","password":"x"}`)
	wantProblem(t, "sign-in with the hashing pool full", res, body, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// TestAPIAuditViaApp: the API's sign-in, revocation and sign-out are audit
// events marked via app; a failed sign-in is the form's LoginFailed.
func TestAPIAuditViaApp(t *testing.T) {
	a := newTestApp(t)
	res, _ := apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", `{"email":"bob@example.com","password":"wrong"}`)
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if ev, ok := a.audit.last(audit.LoginFailed); !ok || ev.Via != audit.ViaApp || ev.Detail != "wrong password" {
		t.Errorf("failed sign-in event %+v", ev)
	}
	other := a.login("bob@example.com", false)
	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	if ev, ok := a.audit.last(audit.LoginSucceeded); !ok || ev.Via != audit.ViaApp || ev.Detail != "App: Test phone" {
		t.Errorf("sign-in event %+v", ev)
	}
	if res, body := apiCall(t, a, "DELETE", "/api/v1/sessions/"+other.handle, token, "", ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.StatusCode, body)
	}
	if ev, ok := a.audit.last(audit.SessionRevoked); !ok || ev.Via != audit.ViaApp || ev.SessionHandle != other.handle {
		t.Errorf("revoke event %+v", ev)
	}
	if res, _ := apiCall(t, a, "DELETE", "/api/v1/sessions/current", token, "", ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out: %d", res.StatusCode)
	}
	if ev, ok := a.audit.last(audit.Logout); !ok || ev.Via != audit.ViaApp {
		t.Errorf("sign-out event %+v", ev)
	}
	res, body := apiCall(t, a, "GET", "/api/v1/me", token, "", "")
	wantProblem(t, "after sign out", res, body, http.StatusUnauthorized)
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="latch", error="invalid_token"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
}

// TestAPIUniformFailure: an unknown email, a wrong password and a disabled
// account fail an API sign-in with the same answer, each after exactly one
// password verification (the dummy one for an unknown email) and the same
// padding, as the login form's failures do (checkLogin).
func TestAPIUniformFailure(t *testing.T) {
	a := newTestApp(t)
	mallory, err := a.users.UserByEmail(t.Context(), "mallory@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.users.SetDisabled(t.Context(), mallory.ID, true); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, tc := range []struct{ name, email, pw string }{
		{"unknown email", "nobody@example.com", "pw-nobody"},
		{"wrong password", "bob@example.com", "not bob's"},
		{"disabled account, right password", "mallory@example.com", "pw-mallory"},
	} {
		a.hasher.mu.Lock()
		work, pads := a.hasher.verifies+a.hasher.dummies, a.hasher.pads
		a.hasher.mu.Unlock()
		b, _ := json.Marshal(map[string]string{"email": tc.email, "password": tc.pw})
		res, body := apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", string(b))
		wantProblem(t, tc.name, res, body, http.StatusUnauthorized)
		bodies = append(bodies, body)
		a.hasher.mu.Lock()
		if got := a.hasher.verifies + a.hasher.dummies - work; got != 1 || a.hasher.pads-pads != 1 {
			t.Errorf("%s: %d verifications, %d paddings; want 1 and 1", tc.name, got, a.hasher.pads-pads)
		}
		a.hasher.mu.Unlock()
		if ev, ok := a.audit.last(audit.LoginFailed); !ok || ev.Via != audit.ViaApp {
			t.Errorf("%s: audit event %+v, want a failed sign-in via app", tc.name, ev)
		}
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("failures answer differently:\n%s\n%s", bodies[0], b)
		}
	}
}

// problemOf decodes body as a problem.
func problemOf(t *testing.T, body string) problem {
	t.Helper()
	var p problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not a problem (%v): %s", err, body)
	}
	return p
}

// TestAPINULPasswordRefusedLikeTheForm: a new password the login form
// would refuse (NUL) is refused by the API too, and the old one stays.
func TestAPINULPasswordRefusedLikeTheForm(t *testing.T) {
	a := newTestApp(t)
	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	res, body := apiCall(t, a, "POST", "/api/v1/account/password", token, "application/json",
		`{"current_password":"pw-bob","new_password":"zebra\u0000correct horse battery staple"}`)
	wantProblem(t, "NUL in new password", res, body, http.StatusBadRequest)
	if p := problemOf(t, body); !strings.Contains(p.Detail, `"new_password"`) || !strings.Contains(p.Detail, "NUL") {
		t.Errorf("detail %q does not name the field and the NUL", p.Detail)
	}
	apiSignInAs(t, a, "bob@example.com", "pw-bob") // unchanged
}

// TestAPIDeviceNameCountsCharacters: device_name's bound is 64 characters
// (the OpenAPI maxLength), not 64 bytes.
func TestAPIDeviceNameCountsCharacters(t *testing.T) {
	a := newTestApp(t)
	for _, tc := range []struct {
		name, device string
		want         int
	}{
		{"25 Hangul characters (75 bytes)", strings.Repeat("한", 25), http.StatusCreated},
		{"64 Hangul characters (192 bytes)", strings.Repeat("한", 64), http.StatusCreated},
		{"64 emoji (256 bytes)", strings.Repeat("📱", 64), http.StatusCreated},
		{"65 ASCII characters", strings.Repeat("a", 65), http.StatusUnprocessableEntity},
	} {
		b, _ := json.Marshal(map[string]string{"email": "bob@example.com", "password": "pw-bob", "device_name": tc.device})
		res, body := apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", string(b))
		if res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, res.StatusCode, tc.want, body)
		}
		if tc.want == http.StatusUnprocessableEntity {
			if p := problemOf(t, body); p.Errors["device_name"] == "" || !strings.Contains(p.Detail, "64 characters") {
				t.Errorf("%s: problem %+v", tc.name, p)
			}
		}
	}
}

// TestAPISessionDeadlines: expires_at is the absolute deadline and
// idle_expires_at the idle one, in the sign-in response and in the list.
func TestAPISessionDeadlines(t *testing.T) {
	a := newTestApp(t)
	res, body := apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", `{"email":"bob@example.com","password":"pw-bob"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("sign in: %d %s", res.StatusCode, body)
	}
	var in signInResponse
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if !in.Session.IdleExpiresAt.Before(in.Session.ExpiresAt) {
		t.Fatalf("sign-in: idle %v not before absolute %v (the test needs different timeouts)", in.Session.IdleExpiresAt, in.Session.ExpiresAt)
	}
	res, body = apiCall(t, a, "GET", "/api/v1/sessions", in.Token, "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", res.StatusCode, body)
	}
	var list struct {
		Sessions []map[string]any `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range list.Sessions {
		if row["handle"] != in.Session.Handle {
			continue
		}
		found = true
		if got, want := row["expires_at"], in.Session.ExpiresAt.Format(time.RFC3339Nano); got != want {
			t.Errorf("row expires_at %v, want the absolute deadline %v", got, want)
		}
		if got, want := row["idle_expires_at"], in.Session.IdleExpiresAt.Format(time.RFC3339Nano); got != want {
			t.Errorf("row idle_expires_at %v, want the idle deadline %v", got, want)
		}
	}
	if !found {
		t.Errorf("the session is not listed: %s", body)
	}
}

// TestAPIWrongPasswordWithValidToken: a wrong password sent with a valid
// token is 403 without WWW-Authenticate (the token stays usable), audited
// via app; the password change names current_password in errors.
func TestAPIWrongPasswordWithValidToken(t *testing.T) {
	a := newTestApp(t)
	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"reauth", "/api/v1/reauth", `{"password":"not bob's"}`, ""},
		{"password change", "/api/v1/account/password", `{"current_password":"not bob's","new_password":"correct horse battery staple"}`, "current_password"},
	} {
		res, body := apiCall(t, a, "POST", tc.path, token, "application/json", tc.body)
		wantProblem(t, tc.name, res, body, http.StatusForbidden)
		if got := res.Header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("%s: WWW-Authenticate %q, want none (the token is valid)", tc.name, got)
		}
		p := problemOf(t, body)
		if p.Detail != "That password is not correct." {
			t.Errorf("%s: detail %q", tc.name, p.Detail)
		}
		if tc.field != "" && p.Errors[tc.field] != "That password is not correct." {
			t.Errorf("%s: errors %v, want %s", tc.name, p.Errors, tc.field)
		}
		if ev, ok := a.audit.last(audit.LoginFailed); !ok || ev.Via != audit.ViaApp || !strings.HasPrefix(ev.Detail, "wrong password") {
			t.Errorf("%s: audit event %+v, want a wrong password via app", tc.name, ev)
		}
		if res, body := apiCall(t, a, "GET", "/api/v1/me", token, "", ""); res.StatusCode != http.StatusOK {
			t.Errorf("%s: the token after a wrong password: %d %s", tc.name, res.StatusCode, body)
		}
	}
}

// TestAPI422HasErrors: every 422 names its fields in "errors".
func TestAPI422HasErrors(t *testing.T) {
	a := newTestApp(t)
	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	for _, tc := range []struct {
		name, path, body string
		auth             bool
		fields           []string
	}{
		{"sign-in, both empty", "/api/v1/sessions", `{"email":"","password":""}`, false, []string{"email", "password"}},
		{"sign-in, no email", "/api/v1/sessions", `{"password":"pw-bob"}`, false, []string{"email"}},
		{"sign-in, no password", "/api/v1/sessions", `{"email":"bob@example.com"}`, false, []string{"password"}},
		{"sign-in, bad device name", "/api/v1/sessions", `{"email":"bob@example.com","password":"pw-bob","device_name":"a\u0001"}`, false, []string{"device_name"}},
		{"reauth, empty", "/api/v1/reauth", `{}`, true, []string{"password"}},
		{"password change, empty", "/api/v1/account/password", `{}`, true, []string{"current_password", "new_password"}},
	} {
		tok := ""
		if tc.auth {
			tok = token
		}
		res, body := apiCall(t, a, "POST", tc.path, tok, "application/json", tc.body)
		wantProblem(t, tc.name, res, body, http.StatusUnprocessableEntity)
		p := problemOf(t, body)
		for _, f := range tc.fields {
			if p.Errors[f] == "" {
				t.Errorf("%s: errors %v lack %s", tc.name, p.Errors, f)
			}
		}
		if len(p.Errors) != len(tc.fields) {
			t.Errorf("%s: errors %v, want exactly %v", tc.name, p.Errors, tc.fields)
		}
	}
}

// TestAPIThrottledSignInAuditedViaApp: a throttled API sign-in is audited
// via app, as the API's other sign-in events are.
func TestAPIThrottledSignInAuditedViaApp(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{AccountIP: throttle.Quota{Count: 1, Period: 30 * time.Minute}})
	res, body := apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", `{"email":"bob@example.com","password":"wrong"}`)
	wantProblem(t, "wrong password", res, body, http.StatusUnauthorized)
	res, body = apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", `{"email":"bob@example.com","password":"wrong"}`)
	wantProblem(t, "throttled", res, body, http.StatusTooManyRequests)
	if ev, ok := a.audit.last(audit.LoginFailed); !ok || ev.Via != audit.ViaApp || !strings.HasPrefix(ev.Detail, "throttled") {
		t.Errorf("throttled sign-in event %+v, want throttled via app", ev)
	}
}

// TestAPIChallenges: error="invalid_token" only when a bearer token was
// offered and refused (RFC 6750 §3.1); two Authorization headers are 400
// invalid_request.
func TestAPIChallenges(t *testing.T) {
	a := newTestApp(t)
	token := apiSignInAs(t, a, "bob@example.com", "pw-bob")
	for _, tc := range []struct {
		name      string
		auth      []string
		status    int
		challenge string
	}{
		{"no header", nil, 401, `Bearer realm="latch"`},
		{"Basic", []string{"Basic Ym9iOnB3LWJvYg=="}, 401, `Bearer realm="latch"`},
		{"Token scheme", []string{"Token abc"}, 401, `Bearer realm="latch"`},
		{"empty Bearer", []string{"Bearer"}, 401, `Bearer realm="latch"`},
		{"Bearer and spaces", []string{"Bearer   "}, 401, `Bearer realm="latch"`},
		{"malformed token", []string{"Bearer nope"}, 401, `Bearer realm="latch", error="invalid_token"`},
		{"unknown token", []string{"Bearer latch_at_" + strings.Repeat("A", 43)}, 401, `Bearer realm="latch", error="invalid_token"`},
		{"two headers", []string{"Bearer " + token, "Bearer " + token}, 400, `Bearer realm="latch", error="invalid_request"`},
		{"valid token then Basic", []string{"Bearer " + token, "Basic Ym9iOnB3LWJvYg=="}, 400, `Bearer realm="latch", error="invalid_request"`},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", a.ts.URL+"/api/v1/me", nil)
		for _, v := range tc.auth {
			req.Header.Add("Authorization", v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		wantProblem(t, tc.name, res, string(b), tc.status)
		if got := res.Header.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tc.name, got, tc.challenge)
		}
	}
}

// TestAPIUnknownFieldNameTruncated: an unknown field's name is quoted in
// the problem (and the log) only up to maxQuotedFieldBytes.
func TestAPIUnknownFieldNameTruncated(t *testing.T) {
	a := newTestApp(t)
	for _, name := range []string{strings.Repeat("k", 15000), strings.Repeat("한", 5000)} {
		logged := len(a.logs.String())
		res, body := apiCall(t, a, "POST", "/api/v1/sessions", "", "application/json", `{"`+name+`":1}`)
		wantProblem(t, "long unknown field", res, body, http.StatusBadRequest)
		p := problemOf(t, body)
		if len(p.Detail) > 200 || !utf8.ValidString(p.Detail) || !strings.Contains(p.Detail, name[:60]) {
			t.Errorf("detail of %d bytes: %.300q", len(p.Detail), p.Detail)
		}
		if strings.Contains(a.logs.String()[logged:], name[:200]) {
			t.Errorf("the log quotes the whole field name")
		}
	}
}

// TestAPINotFoundWords: the API's 404 and 405 speak of endpoints; the
// pages' keep theirs.
func TestAPINotFoundWords(t *testing.T) {
	a := newTestApp(t)
	res, body := apiCall(t, a, "GET", "/api/v1/nothing", "", "", "")
	wantProblem(t, "404", res, body, http.StatusNotFound)
	if p := problemOf(t, body); p.Detail != "No such API endpoint." {
		t.Errorf("404 detail %q", p.Detail)
	}
	res, body = apiCall(t, a, "PUT", "/api/v1/sessions", "", "", "")
	wantProblem(t, "405", res, body, http.StatusMethodNotAllowed)
	if p := problemOf(t, body); p.Detail != "This endpoint does not accept that method." {
		t.Errorf("405 detail %q", p.Detail)
	}
	c := a.newClient(firefoxAgent)
	res, page := c.get("/nothing")
	wantStatus(t, res, page, http.StatusNotFound)
	mustContain(t, page, "There is no page at this address.")
}
