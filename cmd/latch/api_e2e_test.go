package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/throttle"
)

// appClient is a native app talking to the JSON API of one instance, with
// the bearer token it got at sign-in (and no cookie jar).
type appClient struct {
	t     *testing.T
	ta    *testApp
	token string
	ip    string // sent as X-Forwarded-For (withThrottle trusts the loopback proxy); "" for none
}

type apiAnswer struct {
	status int
	header http.Header
	body   string
}

// call sends method path with the JSON body (or none) and the token.
func (c *appClient) call(method, path, body string) apiAnswer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.ta.srv.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.ip != "" {
		req.Header.Set("X-Forwarded-For", c.ip)
	}
	res, err := c.ta.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if sc := res.Header.Values("Set-Cookie"); len(sc) > 0 {
		c.t.Errorf("%s %s set cookies: %q", method, path, sc)
	}
	return apiAnswer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// on returns the same app (same token) talking to another instance.
func (c *appClient) on(other *testApp) *appClient {
	return &appClient{t: c.t, ta: other, token: c.token}
}

// signIn signs an app in on ta and fails t unless it gets 201 and a token.
func signIn(t *testing.T, ta *testApp, email, pw, device string) (*appClient, string) {
	t.Helper()
	c := &appClient{t: t, ta: ta}
	body, _ := json.Marshal(map[string]string{"email": email, "password": pw, "device_name": device})
	a := c.call("POST", "/api/v1/sessions", string(body))
	if a.status != http.StatusCreated {
		t.Fatalf("sign in %s: %d %s", email, a.status, a.body)
	}
	var out struct {
		TokenType string
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(a.body), &raw); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw["token"], &c.token)
	_ = json.Unmarshal(raw["token_type"], &out.TokenType)
	var sess map[string]string
	_ = json.Unmarshal(raw["session"], &sess)
	if !strings.HasPrefix(c.token, session.BearerPrefix) || out.TokenType != "Bearer" || sess["handle"] == "" ||
		sess["created_at"] == "" || sess["expires_at"] == "" || sess["idle_expires_at"] == "" {
		t.Fatalf("sign in: incomplete answer %s", a.body)
	}
	return c, sess["handle"]
}

// wantUnauthorized checks a 401 problem whose challenge has invalid_token.
func wantUnauthorized(t *testing.T, what string, a apiAnswer) {
	t.Helper()
	if a.status != http.StatusUnauthorized || a.header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("%s: %d %q %q, want 401 problem with error=\"invalid_token\"\n%s", what, a.status,
			a.header.Get("Content-Type"), a.header.Get("WWW-Authenticate"), a.body)
	}
}

func listSessions(t *testing.T, c *appClient) []map[string]any {
	t.Helper()
	a := c.call("GET", "/api/v1/sessions", "")
	if a.status != http.StatusOK {
		t.Fatalf("GET /api/v1/sessions: %d %s", a.status, a.body)
	}
	var out struct{ Sessions []map[string]any }
	if err := json.Unmarshal([]byte(a.body), &out); err != nil {
		t.Fatal(err)
	}
	return out.Sessions
}

// TestAPIEndToEnd runs the app flow over real HTTP on each backend (Redis
// and the embedded store): sign in → me → list (browser and app, current
// marked) → revoke another session (re-authentication when the window
// passed) → password change ends the others and keeps this one → sign out
// → 401; a disabled account's app session ends at its next request.
func TestAPIEndToEnd(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			email, pw := ta.newUser("Appy")
			br := ta.newBrowser()
			br.login(email, pw, false)

			app, handle := signIn(t, ta, email, pw, "Appy's phone")
			if a := app.call("GET", "/api/v1/me", ""); a.status != http.StatusOK || !strings.Contains(a.body, `"email":"`+email+`"`) ||
				!strings.Contains(a.body, `"role":"user"`) || !strings.Contains(a.body, `"name":"Appy"`) {
				t.Fatalf("GET /api/v1/me: %d %s", a.status, a.body)
			}
			list := listSessions(t, app)
			if len(list) != 2 {
				t.Fatalf("sessions: %d, want 2 (browser and app): %v", len(list), list)
			}
			var browserHandle string
			for _, s := range list {
				switch s["kind"] {
				case "app":
					if s["handle"] != handle || s["current"] != true || s["device"] != "App: Appy's phone" {
						t.Errorf("app session row %v", s)
					}
				case "browser":
					browserHandle, _ = s["handle"].(string)
					if s["current"] != false {
						t.Errorf("browser session marked current: %v", s)
					}
				default:
					t.Errorf("session row of kind %v", s["kind"])
				}
			}
			// Isolation: the browser's cookie does not authenticate the API, the
			// app's token does not authenticate a page.
			req, _ := http.NewRequest(http.MethodGet, ta.srv.URL+"/api/v1/me", nil)
			if p := br.do(req); p.status != http.StatusUnauthorized || p.header.Get("WWW-Authenticate") != `Bearer realm="latch"` {
				t.Errorf("browser cookie on /api/v1/me: %d %q, want 401 with a bare Bearer challenge", p.status, p.header.Get("WWW-Authenticate"))
			}
			req, _ = http.NewRequest(http.MethodGet, ta.srv.URL+"/profile", nil)
			req.Header.Set("Authorization", "Bearer "+app.token)
			wantLoginRedirect(t, "bearer token on /profile", ta.newBrowser().do(req))
			req, _ = http.NewRequest(http.MethodPost, ta.srv.URL+"/logout", nil)
			req.Header.Set("Authorization", "Bearer "+app.token)
			wantLoginRedirect(t, "bearer token on POST /logout", ta.newBrowser().do(req))
			if a := app.call("GET", "/api/v1/me", ""); a.status != http.StatusOK {
				t.Fatalf("the app after its token was sent to pages: %d", a.status)
			}

			// The devices page lists the app session.
			if p := br.get("/sessions"); p.status != http.StatusOK || !strings.Contains(p.body, "App: Appy&#39;s phone") {
				t.Errorf("/sessions: %d, no \"App: Appy's phone\"", p.status)
			}

			// Revoking another session right after sign-in: within the window.
			if a := app.call("DELETE", "/api/v1/sessions/"+browserHandle, ""); a.status != http.StatusNoContent {
				t.Fatalf("revoke the browser session: %d %s", a.status, a.body)
			}
			wantLoginRedirect(t, "browser after the app revoked it", br.get("/profile"))
			if a := app.call("DELETE", "/api/v1/sessions/"+handle, ""); a.status != http.StatusBadRequest {
				t.Errorf("revoke the current session by handle: %d, want 400", a.status)
			}

			// After the window: 403 until POST /reauth.
			br2 := ta.newBrowser()
			br2.login(email, pw, false)
			ta.clock.Advance(ta.cfg.ReauthWindow + time.Second)
			other := onlyOther(t, app, handle)
			if a := app.call("DELETE", "/api/v1/sessions/"+other, ""); a.status != http.StatusForbidden {
				t.Fatalf("revoke after the window: %d, want 403: %s", a.status, a.body)
			}
			// A wrong password with a valid token is 403, without a challenge: the token stays.
			if a := app.call("POST", "/api/v1/reauth", `{"password":"wrong password"}`); a.status != http.StatusForbidden ||
				a.header.Get("WWW-Authenticate") != "" {
				t.Errorf("reauth with a wrong password: %d %q, want 403 without WWW-Authenticate", a.status, a.header.Get("WWW-Authenticate"))
			}
			if a := app.call("POST", "/api/v1/reauth", `{"password":"`+pw+`"}`); a.status != http.StatusNoContent {
				t.Fatalf("reauth: %d %s", a.status, a.body)
			}
			if a := app.call("DELETE", "/api/v1/sessions/"+other, ""); a.status != http.StatusNoContent {
				t.Fatalf("revoke after reauth: %d %s", a.status, a.body)
			}
			wantLoginRedirect(t, "second browser after the app revoked it", br2.get("/profile"))

			// A password change ends every other session, browser and app.
			br3 := ta.newBrowser()
			br3.login(email, pw, false)
			app2, _ := signIn(t, ta, email, pw, "Tablet")
			const newPW = "a brand new passphrase for Appy"
			a := app.call("POST", "/api/v1/account/password", `{"current_password":"`+pw+`","new_password":"`+newPW+`"}`)
			if a.status != http.StatusOK || !strings.Contains(a.body, `"sessions_ended":2`) {
				t.Fatalf("password change: %d %s", a.status, a.body)
			}
			wantUnauthorized(t, "the other app after the password change", app2.call("GET", "/api/v1/me", ""))
			wantLoginRedirect(t, "the browser after the password change", br3.get("/profile"))
			if a := app.call("GET", "/api/v1/me", ""); a.status != http.StatusOK {
				t.Fatalf("this app after its own password change: %d %s", a.status, a.body)
			}

			// Sign out: 204, then the token is refused.
			if a := app.call("DELETE", "/api/v1/sessions/current", ""); a.status != http.StatusNoContent {
				t.Fatalf("sign out: %d %s", a.status, a.body)
			}
			wantUnauthorized(t, "after sign out", app.call("GET", "/api/v1/me", ""))
			if recs := userSessions(t, ta, onlySessionOwner(t, ta, email)); len(recs) != 0 {
				t.Errorf("sessions left after sign out: %+v", recs)
			}

			// The app timeouts: a month of use keeps it alive (far past the
			// browser's 30 minutes); 30 days without a request end it.
			app4, _ := signIn(t, ta, email, newPW, "Idle phone")
			for range 4 {
				ta.clock.Advance(7 * 24 * time.Hour)
				if a := app4.call("GET", "/api/v1/me", ""); a.status != http.StatusOK {
					t.Fatalf("app session used weekly: %d %s", a.status, a.body)
				}
			}
			ta.clock.Advance(ta.cfg.API.IdleTimeout + time.Second)
			wantUnauthorized(t, "app session idle past LATCH_API_IDLE_TIMEOUT", app4.call("GET", "/api/v1/me", ""))

			// Disabling the account ends its app sessions (the account state
			// checked on every bearer request).
			app3, _ := signIn(t, ta, email, newPW, "")
			u, err := ta.app.db.UserByEmail(t.Context(), email)
			if err != nil {
				t.Fatal(err)
			}
			if err := ta.app.db.SetDisabled(t.Context(), u.ID, true); err != nil {
				t.Fatal(err)
			}
			wantUnauthorized(t, "app of a disabled account", app3.call("GET", "/api/v1/me", ""))
		})
	}
}

// onlyOther returns the handle of the one session in the list besides own.
func onlyOther(t *testing.T, c *appClient, own string) string {
	t.Helper()
	var others []string
	for _, s := range listSessions(t, c) {
		if h, _ := s["handle"].(string); h != own {
			others = append(others, h)
		}
	}
	if len(others) != 1 {
		t.Fatalf("other sessions %q, want one", others)
	}
	return others[0]
}

func onlySessionOwner(t *testing.T, ta *testApp, email string) int64 {
	t.Helper()
	u, err := ta.app.db.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestAPIAdminKillOnAnotherInstance: two instances on the same stores; an
// administrator on A kills an app session (listed as "App: <name>"), and
// the app's very next request, on B, is 401.
func TestAPIAdminKillOnAnotherInstance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := testConfig(t, b)
			clock := clocktest.New(time.Now())
			instA := startAppWithConfig(t, cfg, clock)
			instB := startAppWithConfig(t, cfg, clock)
			email, pw := instA.newUser("Killed")
			app, handle := signIn(t, instA, email, pw, "Victim phone")
			onB := app.on(instB)
			if a := onB.call("GET", "/api/v1/me", ""); a.status != http.StatusOK {
				t.Fatalf("A's app session on B: %d %s", a.status, a.body)
			}
			adm, adminPW := adminAccount(t, instA, "Admin")
			admin := instA.newBrowser()
			admin.login(adm.Email, adminPW, false)
			if p := admin.get("/admin/sessions"); p.status != http.StatusOK || !strings.Contains(p.body, "App: Victim phone") {
				t.Fatalf("/admin/sessions: %d, no \"App: Victim phone\"", p.status)
			}
			env := cliEnvFor(instA)
			var list []sessionJSON
			if err := json.Unmarshal([]byte(env.ok(t, "sessions", "list", "--user", email, "--json").stdout), &list); err != nil ||
				len(list) != 1 || list[0].Kind != "app" || list[0].DeviceName != "Victim phone" {
				t.Errorf("latch sessions list --json: %v %+v", err, list)
			}
			if out := env.ok(t, "sessions", "list", "--user", email).stdout; !strings.Contains(out, "App: Victim phone, ") {
				t.Errorf("latch sessions list does not name the app:\n%s", out)
			}
			clock.Advance(cfg.ReauthWindow + time.Second) // the kill asks for the password
			adminKill(t, admin, handle, admin.csrfToken(), adminPW)
			wantUnauthorized(t, "B, the request right after the kill on A", onB.call("GET", "/api/v1/me", ""))
			wantUnauthorized(t, "A after the kill", app.call("GET", "/api/v1/sessions", ""))

			// The CLI's revoke ends an app session on every instance too.
			app2, handle2 := signIn(t, instA, email, pw, "Second phone")
			if a := app2.on(instB).call("GET", "/api/v1/me", ""); a.status != http.StatusOK {
				t.Fatalf("second app session on B: %d", a.status)
			}
			if out := env.ok(t, "sessions", "revoke", "--", handle2).stdout; !strings.Contains(out, "ended session "+handle2) {
				t.Errorf("latch sessions revoke: %q", out)
			}
			wantUnauthorized(t, "B, the request right after the CLI revoke", app2.on(instB).call("GET", "/api/v1/me", ""))
		})
	}
}

// TestAPIThrottledAndUniformLikeTheForm: API sign-ins count against the
// login form's quotas (the same reservation: checkLogin), fail with one
// message whatever the cause, and a refusal is a 429 problem with
// Retry-After, for the form too.
func TestAPIThrottledAndUniformLikeTheForm(t *testing.T) {
	for _, b := range backends[:1] {
		t.Run(b.name, func(t *testing.T) {
			q := throttle.DefaultQuotas()
			q.AccountIP = throttle.Quota{Count: 3, Period: 30 * time.Minute}
			ta := startApp(t, b, withThrottle(q))
			email, pw := ta.newUser("Throttled")
			c := &appClient{t: t, ta: ta}
			wrong := c.call("POST", "/api/v1/sessions", `{"email":"`+email+`","password":"not the password"}`)
			unknown := c.call("POST", "/api/v1/sessions", `{"email":"nobody-`+strconv.FormatInt(time.Now().UnixNano(), 10)+`@example.com","password":"not the password"}`)
			for _, a := range []apiAnswer{wrong, unknown} {
				if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `"detail":"Incorrect email or password."`) {
					t.Errorf("failed sign-in: %d %s", a.status, a.body)
				}
			}
			if wrong.body != unknown.body {
				t.Errorf("wrong password and unknown email answer differently:\n%s\n%s", wrong.body, unknown.body)
			}
			// Two more failures for the account from this IP use up its quota of 3
			// (one by the API above, one by the form, one by the API).
			if p := ta.newBrowser().post("/login", map[string][]string{"email": {email}, "password": {"still wrong"}}); p.status != http.StatusUnauthorized {
				t.Fatalf("form failure: %d", p.status)
			}
			c.call("POST", "/api/v1/sessions", `{"email":"`+email+`","password":"wrong again"}`)
			a := c.call("POST", "/api/v1/sessions", `{"email":"`+email+`","password":"`+pw+`"}`)
			n, err := strconv.Atoi(a.header.Get("Retry-After"))
			if a.status != http.StatusTooManyRequests || err != nil || n < 1 || a.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("sign-in over the quota: %d Retry-After %q %s", a.status, a.header.Get("Retry-After"), a.body)
			}
			wantThrottled(t, ta.newBrowser().post("/login", map[string][]string{"email": {email}, "password": {pw}}), "the form after API failures", 30*60)
		})
	}
}

// TestAPIExampleClient builds examples/apiclient and runs it against a
// live server: it signs in, shows the user and the sessions (the browser's
// and its own, marked), and signs out, leaving only the browser session.
func TestAPIExampleClient(t *testing.T) {
	ta := startApp(t, backends[len(backends)-1]) // the embedded store
	email, pw := ta.newUser("Example")
	br := ta.newBrowser()
	br.login(email, pw, false)

	dir := t.TempDir()
	bin := filepath.Join(dir, "apiclient")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../../examples/apiclient")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/apiclient: %v\n%s", err, out)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ta.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-url", ta.srv.URL, "-email", email, "-device", "Example CLI", "-ca", ca)
	cmd.Stdin = strings.NewReader(pw + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apiclient: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"signed in: session ", "me: " + email + " (Example, user)\n", "sessions: 2\n",
		" App: Example CLI (app, 127.0.0.1) ends by ", " (browser, 127.0.0.1) ends by ", "signed out\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("apiclient output lacks %q:\n%s", want, got)
		}
	}
	if !regexp.MustCompile(`(?m)^\* \S+ App: Example CLI \(app`).MatchString(got) {
		t.Errorf("the app's own session is not marked current:\n%s", got)
	}
	// The row's deadlines mean what the sign-in response's mean.
	signedIn := regexp.MustCompile(`(?m)^signed in: session (\S+), (ends by \S+ \(idle: \S+\))$`).FindStringSubmatch(got)
	if signedIn == nil || !strings.Contains(got, "* "+signedIn[1]+" App: Example CLI (app, 127.0.0.1) "+signedIn[2]+"\n") {
		t.Errorf("the current row's deadlines differ from the sign-in's (%q):\n%s", signedIn, got)
	}
	if strings.Contains(got, session.BearerPrefix) || strings.Contains(got, pw) {
		t.Errorf("apiclient printed its token or the password:\n%s", got)
	}
	recs := userSessions(t, ta, onlySessionOwner(t, ta, email))
	if len(recs) != 1 || recs[0].Kind != session.KindBrowser {
		t.Errorf("sessions after the client signed out: %+v, want the browser's only", recs)
	}
	// -h lists the flags and succeeds (README "Apps").
	if out, err := exec.CommandContext(t.Context(), bin, "-h").CombinedOutput(); err != nil || !strings.Contains(string(out), "-email") {
		t.Errorf("apiclient -h: %v\n%s", err, out)
	}
}

// TestAPIOwnerSignsInFromKnownIPDuringAttack is
// TestOwnerLogsInFromKnownIPDuringAttack through the API: guesses from two
// IPs use up the account's quota; the owner's app still signs in from the
// network the account signed in from before (the known-network
// exemption), a new network is asked to wait (429 problem, Retry-After).
func TestAPIOwnerSignsInFromKnownIPDuringAttack(t *testing.T) {
	ta := startApp(t, backends[0], withThrottle(throttle.DefaultQuotas()))
	email, pw := ta.newUser("Owner")
	const home = "203.0.113.5"
	signInBody := func(pw string) string {
		b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
		return string(b)
	}
	if a := (&appClient{t: t, ta: ta, ip: home}).call("POST", "/api/v1/sessions", signInBody(pw)); a.status != http.StatusCreated {
		t.Fatalf("the owner's first sign-in: %d %s", a.status, a.body)
	}
	for _, ip := range []string{"198.51.100.7", "198.51.100.8"} {
		attacker := &appClient{t: t, ta: ta, ip: ip}
		for i := range 5 {
			if a := attacker.call("POST", "/api/v1/sessions", signInBody("guess "+strconv.Itoa(i))); a.status != http.StatusUnauthorized {
				t.Fatalf("attack from %s, guess %d: %d, want 401", ip, i+1, a.status)
			}
		}
	}
	third := (&appClient{t: t, ta: ta, ip: "198.51.100.9"}).call("POST", "/api/v1/sessions", signInBody(pw))
	if third.status != http.StatusTooManyRequests || third.header.Get("Retry-After") == "" {
		t.Fatalf("a third attacking IP with the right password: %d %q, want 429 with Retry-After", third.status, third.header.Get("Retry-After"))
	}
	owner := &appClient{t: t, ta: ta, ip: home}
	if a := owner.call("POST", "/api/v1/sessions", signInBody(pw)); a.status != http.StatusCreated {
		t.Fatalf("the owner from the known IP during the attack: %d %s", a.status, a.body)
	}
	wantThrottled(t, ta.newBrowser().loginAs("192.0.2.44", email, pw), "the owner's browser from a new IP", 360)
}
