package main

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// TestRegisterLoginProfileLogout is the main journey on every backend.
func TestRegisterLoginProfileLogout(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			br := ta.newBrowser()

			if p := br.get("/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
				t.Fatalf("anonymous GET /: %d %q", p.status, p.header.Get("Location"))
			}
			br.register("  Ada@Example.com ", "Ada Lovelace", "correct horse battery staple")
			if p := br.get("/login"); !strings.Contains(p.body, "Your account has been created") {
				t.Errorf("no flash after registering:\n%s", p.body)
			}
			// Email is case-insensitive and trimmed.
			br.login("ada@example.COM", "correct horse battery staple", false)

			p := br.get("/profile")
			if p.status != http.StatusOK {
				t.Fatalf("GET /profile: %d", p.status)
			}
			for _, want := range []string{"Ada Lovelace", "Ada@Example.com", `id="session-created"`, `id="session-absolute"`, `id="session-idle"`} {
				if !strings.Contains(p.body, want) {
					t.Errorf("profile lacks %q", want)
				}
			}
			if got := p.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("profile Cache-Control = %q, want no-store", got)
			}
			if ta.storedSessions() != 1 {
				t.Errorf("stored sessions = %d, want 1", ta.storedSessions())
			}

			out := br.post("/logout", url.Values{"csrf_token": {br.csrfToken()}})
			if out.status != http.StatusSeeOther || out.header.Get("Location") != "/login" {
				t.Fatalf("logout: %d %q", out.status, out.header.Get("Location"))
			}
			if br.sessionCookie() != nil {
				t.Error("session cookie still in the jar after logout")
			}
			if p := br.get("/login"); !strings.Contains(p.body, "You have been logged out") {
				t.Errorf("no logout flash")
			}
			if br.signedIn() {
				t.Error("still signed in after logout")
			}
			if n := ta.storedSessions(); n != 0 {
				t.Errorf("stored sessions after logout = %d, want 0", n)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Cookie")
	for _, remember := range []bool{false, true} {
		br := ta.newBrowser()
		p := br.login(email, pw, remember)
		setCookies := p.resp.Cookies()
		if len(setCookies) != 1 {
			t.Fatalf("login set %d cookies: %q", len(setCookies), p.header.Values("Set-Cookie"))
		}
		c := setCookies[0]
		raw := p.header.Get("Set-Cookie")
		if c.Name != "__Host-latch_session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode ||
			c.Path != "/" || strings.Contains(strings.ToLower(raw), "domain=") {
			t.Errorf("remember=%v: cookie %q", remember, raw)
		}
		if persistent := c.MaxAge > 0; persistent != remember {
			t.Errorf("remember=%v: persistent=%v (%q)", remember, persistent, raw)
		}
		if p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("login response Cache-Control = %q", p.header.Get("Cache-Control"))
		}
		if strings.Contains(ta.logs.String(), c.Value) {
			t.Error("session token appears in the log")
		}
	}
}

// TestFixation plants a known, valid token in the victim's browser before
// login; after login the planted token is dead and its key is gone.
func TestFixation(t *testing.T) {
	ta := startApp(t, backends[0])
	attackerEmail, attackerPW := ta.newUser("Mallory")
	victimEmail, victimPW := ta.newUser("Victim")

	attacker := ta.newBrowser()
	attacker.login(attackerEmail, attackerPW, false)
	planted := attacker.sessionCookie()

	victim := ta.newBrowser()
	victim.client.Jar.SetCookies(mustParseURL(t, ta.srv.URL), []*http.Cookie{planted})
	victim.login(victimEmail, victimPW, false)
	if victim.sessionCookie().Value == planted.Value {
		t.Fatal("login kept the planted token")
	}
	if !victim.signedIn() {
		t.Fatal("victim not signed in")
	}
	replay := ta.newBrowser()
	replay.client.Jar.SetCookies(mustParseURL(t, ta.srv.URL), []*http.Cookie{planted})
	if replay.signedIn() {
		t.Error("the pre-login token still works after login")
	}
	if n := ta.storedSessions(); n != 1 {
		t.Errorf("stored sessions = %d, want 1 (the victim's new one)", n)
	}
}

// TestLogoutReplayOnEveryInstance logs out on instance A and replays the
// old cookie on instances A and B, which share Redis.
func TestLogoutReplayOnEveryInstance(t *testing.T) {
	a := startApp(t, backends[0])
	bApp := startAppWithConfig(t, a.cfg, a.clock)
	email, pw := a.newUser("Replay")

	br := a.newBrowser()
	br.login(email, pw, false)
	old := br.sessionCookie()
	if !br.on(bApp).signedIn() {
		t.Fatal("session from A not valid on B")
	}
	br.post("/logout", url.Values{"csrf_token": {br.csrfToken()}})

	for _, inst := range []*testApp{a, bApp} {
		replay := inst.newBrowser()
		replay.client.Jar.SetCookies(mustParseURL(t, inst.srv.URL), []*http.Cookie{old})
		if replay.signedIn() {
			t.Errorf("replayed cookie accepted after logout")
		}
		if p := replay.get("/login"); !strings.Contains(p.body, "Your session has ended") {
			t.Errorf("the login page does not say why the session ended")
		}
	}
}

func TestGETLogoutDoesNothing(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Get")
	br := ta.newBrowser()
	br.login(email, pw, false)
	if p := br.get("/logout"); p.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /logout: %d, want 405", p.status)
	}
	if !br.signedIn() {
		t.Error("GET /logout ended the session")
	}
}

// notifyBody signals once when the handler first reads the request body,
// which happens after the session has been loaded.
type notifyBody struct {
	io.ReadCloser
	once    sync.Once
	reading chan struct{}
}

func (n *notifyBody) Read(p []byte) (int, error) {
	n.once.Do(func() { close(n.reading) })
	return n.ReadCloser.Read(p)
}

// TestInFlightRequestCannotResurrectSession holds a request whose session
// is loaded and due for an idle refresh in flight across a logout; when it
// finishes, the session must stay revoked.
func TestInFlightRequestCannotResurrectSession(t *testing.T) {
	for _, b := range []backend{backends[0], backends[2]} {
		t.Run(b.name, func(t *testing.T) {
			hold := newHolder()
			ta := startHeld(t, testConfig(t, b), hold)
			email, pw := ta.newUser("Slow")
			br := ta.newBrowser()
			br.login(email, pw, false)
			token := br.csrfToken()
			cookie := br.sessionCookie()
			ta.clock.Advance(2 * time.Minute) // the held request will refresh (write) the session

			finish := startSlowPost(t, ta, hold, "/logout", cookie, "csrf_token=wrong")
			if p := br.post("/logout", url.Values{"csrf_token": {token}}); p.status != http.StatusSeeOther {
				t.Fatalf("logout: %d", p.status)
			}
			if r := finish(); r.status != http.StatusForbidden {
				t.Errorf("held request: status %d, want 403 (bad token)", r.status)
			}
			if n := ta.storedSessions(); n != 0 {
				t.Fatalf("the in-flight request resurrected the session (%d stored)", n)
			}
			replay := ta.newBrowser()
			replay.client.Jar.SetCookies(mustParseURL(t, ta.srv.URL), []*http.Cookie{cookie})
			if replay.signedIn() {
				t.Fatal("old cookie works again after logout")
			}
		})
	}
}

func wrapBody(next http.Handler, reading chan struct{}) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Origin") == "" {
			once.Do(func() { r.Body = &notifyBody{ReadCloser: r.Body, reading: reading} })
		}
		next.ServeHTTP(w, r)
	})
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Timeout")

	t.Run("idle", func(t *testing.T) {
		br := ta.newBrowser()
		br.login(email, pw, false)
		ta.clock.Advance(ta.cfg.IdleTimeout - time.Minute)
		if !br.signedIn() {
			t.Fatal("signed out before the idle timeout")
		}
		ta.clock.Advance(ta.cfg.IdleTimeout + time.Second)
		p := br.get("/profile")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
			t.Fatalf("after the idle timeout: %d %q", p.status, p.header.Get("Location"))
		}
		if l := br.get("/login"); !strings.Contains(l.body, "Your session has ended") {
			t.Error("no 'session has ended' message after an idle timeout")
		}
	})

	t.Run("absolute", func(t *testing.T) {
		br := ta.newBrowser()
		br.login(email, pw, false)
		step := ta.cfg.IdleTimeout / 2
		var elapsed time.Duration
		for elapsed+step < ta.cfg.AbsoluteTimeout {
			ta.clock.Advance(step)
			elapsed += step
			if !br.signedIn() {
				t.Fatalf("active session ended after %v", elapsed)
			}
		}
		ta.clock.Advance(ta.cfg.AbsoluteTimeout - elapsed + time.Second)
		if br.signedIn() {
			t.Fatal("active session outlived the absolute timeout")
		}
	})

	t.Run("remember me", func(t *testing.T) {
		br := ta.newBrowser()
		br.login(email, pw, true)
		ta.clock.Advance(ta.cfg.IdleTimeout * 3)
		if !br.signedIn() {
			t.Fatal("remember-me session ended after 3× the ordinary idle timeout")
		}
		ta.clock.Advance(ta.cfg.RememberIdleTimeout + time.Second)
		if br.signedIn() {
			t.Fatal("remember-me session outlived its idle timeout")
		}
	})
}

func TestCrossSitePostRejected(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Csrf")
	br := ta.newBrowser()
	br.login(email, pw, false)
	token := br.csrfToken()

	tests := []struct {
		name, path string
		form       url.Values
		header     map[string]string
	}{
		{"login cross-site fetch metadata", "/login", url.Values{"email": {email}, "password": {pw}},
			map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"login foreign Origin", "/login", url.Values{"email": {email}, "password": {pw}},
			map[string]string{"Origin": "https://evil.example"}},
		{"register cross-site", "/register", url.Values{"email": {"x@example.com"}, "name": {"X"}, "password": {pw}},
			map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"logout cross-site with a valid token", "/logout", url.Values{"csrf_token": {token}},
			map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"logout same-site subdomain", "/logout", url.Values{"csrf_token": {token}},
			map[string]string{"Sec-Fetch-Site": "same-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+tt.path, strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			p := br.do(req)
			if p.status != http.StatusForbidden {
				t.Errorf("status %d, want 403", p.status)
			}
			if !strings.Contains(p.body, "another site") {
				t.Errorf("403 page lacks a readable reason:\n%s", p.body)
			}
		})
	}
	if !br.signedIn() {
		t.Error("a rejected cross-site logout ended the session")
	}
}

func TestAuthenticatedFormNeedsSynchronizerToken(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Token")
	br := ta.newBrowser()
	br.login(email, pw, false)
	other := ta.newBrowser()
	other.login(email, pw, false)

	for name, form := range map[string]url.Values{
		"missing":               {},
		"empty":                 {"csrf_token": {""}},
		"wrong":                 {"csrf_token": {"forged"}},
		"another session's one": {"csrf_token": {other.csrfToken()}},
	} {
		t.Run(name, func(t *testing.T) {
			// No Origin and no Sec-Fetch-Site: only the token can protect.
			req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/logout", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := br.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
		})
	}
	if !br.signedIn() {
		t.Error("a logout without a valid token ended the session")
	}
}

func TestLoginNextOnlyLocal(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Next")
	bad := []string{
		"https://evil.example", "//evil.example", "/\\evil.example", "/%2F%2Fevil.example",
		"/%5Cevil.example", "javascript:alert(1)", "/\r\nLocation: https://evil.example",
		"/%0d%0aSet-Cookie:x=y", "\t//evil.example", "http:/evil.example", "///evil.example",
	}
	for _, next := range bad {
		t.Run(next, func(t *testing.T) {
			br := ta.newBrowser()
			p := br.post("/login", url.Values{"email": {email}, "password": {pw}, "next": {next}})
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/profile" {
				t.Errorf("next=%q: %d Location %q, want /profile", next, p.status, p.header.Get("Location"))
			}
		})
	}
	t.Run("local path is followed", func(t *testing.T) {
		br := ta.newBrowser()
		if p := br.get("/profile?tab=1"); p.header.Get("Location") != "/login?next=%2Fprofile%3Ftab%3D1" {
			t.Fatalf("protected page redirect: %q", p.header.Get("Location"))
		}
		p := br.post("/login", url.Values{"email": {email}, "password": {pw}, "next": {"/profile?tab=1"}})
		if p.header.Get("Location") != "/profile?tab=1" {
			t.Errorf("Location %q, want /profile?tab=1", p.header.Get("Location"))
		}
	})
}

func TestLoginFailureLooksTheSame(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Same")
	disabledEmail, disabledPW := ta.newUser("Disabled")
	if _, err := ta.app.db.SQL().ExecContext(t.Context(),
		`UPDATE users SET disabled = true WHERE email = ?`, disabledEmail); err != nil {
		t.Fatal(err)
	}
	cases := map[string]url.Values{
		"unknown email":    {"email": {"nobody@example.com"}, "password": {pw}},
		"wrong password":   {"email": {email}, "password": {"wrong password, long enough"}},
		"disabled account": {"email": {disabledEmail}, "password": {disabledPW}},
	}
	var bodies []string
	for name, form := range cases {
		p := ta.newBrowser().post("/login", form)
		if p.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, p.status)
		}
		if !strings.Contains(p.body, "Incorrect email or password.") {
			t.Errorf("%s: message missing", name)
		}
		if len(p.resp.Cookies()) != 0 {
			t.Errorf("%s: failed login set a cookie", name)
		}
		// Only the echoed email differs between the pages.
		bodies = append(bodies, strings.ReplaceAll(p.body, form.Get("email"), "EMAIL"))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Error("failure pages differ beyond the echoed email")
	}
	if strings.Contains(ta.logs.String(), pw) || strings.Contains(ta.logs.String(), "wrong password, long enough") {
		t.Error("a password appears in the log")
	}
}

func TestAnonymousRequestsCreateNoSession(t *testing.T) {
	for _, b := range []backend{backends[0], backends[2]} {
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			bot := ta.newBrowser()
			paths := []string{"/login", "/register", "/static/style.css", "/no-such-page", "/", "/profile", "/healthz"}
			for i := range 1000 {
				p := bot.get(paths[i%len(paths)])
				if slices.ContainsFunc(p.resp.Cookies(), func(c *http.Cookie) bool { return strings.Contains(c.Name, "session") }) {
					t.Fatalf("anonymous GET %s set a session cookie", paths[i%len(paths)])
				}
			}
			if n := ta.storedSessions(); n != 0 {
				t.Errorf("1000 anonymous GETs stored %d sessions", n)
			}
		})
	}
}

func TestLoginThenGETThousandTimes(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Loop")
	br := ta.newBrowser()
	for i := range 1000 {
		br.login(email, pw, false)
		if p := br.get("/profile"); p.status != http.StatusOK {
			t.Fatalf("iteration %d: GET /profile after login: %d", i, p.status)
		}
	}
	if n := ta.storedSessions(); n != 1 {
		t.Errorf("after 1000 re-logins in one browser: %d stored sessions, want 1", n)
	}
}

func TestSecurityHeaders(t *testing.T) {
	ta := startApp(t, backends[0])
	br := ta.newBrowser()
	for _, path := range []string{"/login", "/no-such-page", "/static/style.css"} {
		p := br.get(path)
		h := p.header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" ||
			!strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	if p := br.get("/login"); p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("/login Cache-Control = %q", p.header.Get("Cache-Control"))
	}
	if p := br.get("/static/style.css"); p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %q", p.status, p.header.Get("Content-Type"))
	}
}

func TestMalformedInputsGet4xx(t *testing.T) {
	ta := startApp(t, backends[0])
	email, pw := ta.newUser("Bad")
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		header map[string]string
		want   int
	}{
		{"oversized form", "POST", "/login", "email=" + strings.Repeat("a", 70<<10), nil, 413},
		{"invalid UTF-8 email", "POST", "/login", "email=%ff%fe&password=x", nil, 400},
		{"invalid UTF-8 register", "POST", "/register", "email=a%40b.c&name=%c3%28&password=aaaaaaaaaaaaa", nil, 400},
		{"malformed form encoding", "POST", "/login", "email=%zz", nil, 400},
		{"missing password", "POST", "/login", "email=" + url.QueryEscape(email), nil, 422},
		{"missing fields register", "POST", "/register", "", nil, 422},
		{"too long password", "POST", "/login", "email=" + url.QueryEscape(email) + "&password=" + strings.Repeat("p", 1025), nil, 401},
		{"wrong method", "PUT", "/login", "", nil, 405},
		{"GET logout", "GET", "/logout", "", nil, 405},
		{"unknown page", "GET", "/wp-admin.php", "", nil, 404},
		{"malformed session cookie", "GET", "/profile", "", map[string]string{"Cookie": "__Host-latch_session=%%%"}, 400},
		{"oversized cookie header", "GET", "/login", "", map[string]string{"Cookie": "x=" + strings.Repeat("a", 30<<10)}, 431},
		{"static directory", "GET", "/static/", "", nil, 404},
		{"static traversal", "GET", "/static/../go.mod", "", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ta.srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.body != "" || tt.method == "POST" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := ta.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d\n%s", resp.StatusCode, tt.want, body)
			}
			if tt.want != 431 && !strings.Contains(string(body), "<main") {
				t.Errorf("no readable page:\n%s", body)
			}
		})
	}
	t.Run("405 lists the allowed methods", func(t *testing.T) {
		for path, want := range map[string]string{"/logout": "POST", "/login": "GET, HEAD, POST", "/static/style.css": "GET, HEAD"} {
			req, _ := http.NewRequest(http.MethodDelete, ta.srv.URL+path, nil)
			resp, err := ta.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != want {
				t.Errorf("DELETE %s: %d Allow %q, want 405 Allow %q", path, resp.StatusCode, resp.Header.Get("Allow"), want)
			}
		}
	})
	t.Run("HEAD answers like GET", func(t *testing.T) {
		for _, path := range []string{"/login", "/healthz", "/static/style.css"} {
			resp, err := ta.srv.Client().Head(ta.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("HEAD %s: %d, want 200", path, resp.StatusCode)
			}
		}
	})
	t.Run("refilled email is cut on a character boundary", func(t *testing.T) {
		p := ta.newBrowser().post("/login", url.Values{"email": {strings.Repeat("€", 100)}, "password": {"x"}})
		if !utf8.ValidString(p.body) {
			t.Error("the re-rendered login form is not valid UTF-8")
		}
	})
	// The account still works after all of that.
	ta.newBrowser().login(email, pw, false)
}

func TestRegisterValidation(t *testing.T) {
	ta := startApp(t, backends[0])
	email, _ := ta.newUser("Taken")
	tests := []struct {
		name, email, nm, pw, field string
	}{
		{"short password", "new1@example.com", "New", "short", "password"},
		{"bad email", "not-an-email", "New", "long enough password", "email"},
		{"taken email, other case", strings.ToUpper(email), "New", "long enough password", "email"},
		{"empty name", "new2@example.com", "   ", "long enough password", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ta.newBrowser().post("/register", url.Values{"email": {tt.email}, "name": {tt.nm}, "password": {tt.pw}})
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", p.status)
			}
			if !strings.Contains(p.body, `id="`+tt.field+`-error"`) {
				t.Errorf("no error next to %s", tt.field)
			}
			if tt.pw != "" && strings.Contains(p.body, tt.pw) {
				t.Error("the form re-filled the password")
			}
			if tt.field != "email" && !strings.Contains(p.body, tt.email) {
				t.Error("the form lost the typed email")
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	ta := startApp(t, backends[0])
	if p := ta.newBrowser().get("/healthz"); p.status != 200 || strings.TrimSpace(p.body) != "ok" {
		t.Errorf("healthz: %d %q", p.status, p.body)
	}
}
