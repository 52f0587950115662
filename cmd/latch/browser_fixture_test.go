package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// This file and browser_a11y_test.go, browser_layout_test.go and
// browser_keyboard_test.go are the browser tests of issue 11's "as a new
// user tried it" and "Accessibility" items. This one holds what they share:
// the fixture (an app with accounts, sessions and audit events, and three
// browser contexts), the list of every page, and the tab helpers.

// uiLanguages are the languages every page is checked (and photographed)
// in, as Accept-Language values. Adding "ko" here runs every check in
// Korean as well.
var uiLanguages = []string{"en", "ko"}

// uiTestTimeout bounds one UI browser test: they visit every page in both
// colour schemes, each visit a navigation and an axe run.
const uiTestTimeout = 4 * time.Minute

// Long user agents, as real browsers send them: the admin tables must show
// the parsed device and keep these behind a disclosure.
var uiUserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
}

// uiPeople name the fixture's other accounts; the last has an address too
// long for a phone's line.
var uiPeople = []string{"Alan Turing", "Barbara Liskov", "Claude Shannon", "Dorothy Vaughan", "Edsger Dijkstra",
	"Frances Allen", "Hedy Lamarr", "John Backus", "Karen Sparck Jones", "Leslie Lamport", "Margaret Hamilton",
	"Katherine Johnson Flight Research Division Langley"}

// uiAccount creates an account in ta's database and returns its email,
// password and ID.
func uiAccount(t *testing.T, ta *testApp, name, email string, role user.Role) (string, string, int64) {
	t.Helper()
	const pw = "correct horse battery staple"
	hash, err := password.NewHasher(testParams, 0, 0).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &user.User{Email: email, Name: name, PasswordHash: hash, Role: role}
	if err := ta.app.db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u.Email, pw, u.ID
}

// uiFixture is an app with an administrator, ordinary users with sessions
// on several devices, an audit log of a page's length, and three browser
// contexts of one Chromium: anonymous, a user's and the administrator's.
type uiFixture struct {
	ta                  *testApp
	anon, user, admin   context.Context
	userEmail, userPW   string
	userID              int64
	adminEmail, adminPW string
	adminID             int64
	resetPath           string // a valid one-time reset link's path, for userEmail's account
	registered          int    // accounts registered through the form so far
	newDevices          int    // sign-ins from uiNewDeviceAgents so far
}

// uiNewDeviceAgents are browsers new to the fixture's user, one for each
// visit of the page that shows the new-device notice.
var uiNewDeviceAgents = []string{
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7; rv:133.0) Gecko/20100101 Firefox/133.0",
}

func newUIFixture(t *testing.T) *uiFixture {
	t.Helper()
	// No throttle: every page is visited once per language and colour
	// scheme, and the failed-login and failed-password pages would use up
	// the per-account quota (their own tests cover throttling).
	ta := startApp(t, backends[0], func(c *config.Config) { c.Throttle = throttle.Quotas{} })
	f := &uiFixture{ta: ta}
	f.anon, _ = startChromiumFor(t, uiTestTimeout)
	f.user = newBrowserContext(t, f.anon)
	f.admin = newBrowserContext(t, f.anon)

	// The app's database is the test's own: the addresses can read like
	// real ones in the screenshots.
	f.adminEmail, f.adminPW, f.adminID = uiAccount(t, ta, "Ada Lovelace", "ada@example.com", user.RoleAdmin)
	f.userEmail, f.userPW, f.userID = uiAccount(t, ta, "Grace Hopper", "grace.hopper@example.com", user.RoleUser)
	// Other accounts, each signed in from two devices with long user
	// agents, and a wrong password each: sessions and audit events enough
	// for full admin pages (50 rows a page).
	for i, name := range uiPeople {
		email, pw, _ := uiAccount(t, ta, name, strings.ToLower(strings.ReplaceAll(name, " ", "."))+"@example.org", user.RoleUser)
		for j := range 2 {
			loginWithAgent(t, ta, email, pw, uiUserAgents[(i+j)%len(uiUserAgents)])
		}
		wrongPasswordWithAgent(t, ta, email, uiUserAgents[i%len(uiUserAgents)])
	}
	// Another device of the user, for the devices page.
	loginWithAgent(t, ta, f.userEmail, f.userPW, uiUserAgents[1])

	out := cliEnvFor(ta).ok(t, "user", "reset-link", f.userEmail, "--base-url", ta.srv.URL)
	_, token := resetLinkOf(t, out.stdout)
	f.resetPath = "/reset/" + token
	return f
}

// newBrowserContext opens a tab in a new browser context (its own cookie
// store, like another person's browser) of the Chromium that parent's tab
// belongs to.
func newBrowserContext(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel) // before startChromium's clean-up closes the browser
	tabDo(t, ctx, "open a browser context")
	return ctx
}

// loginWithAgent signs email in over HTTP, with the given User-Agent.
func loginWithAgent(t *testing.T, ta *testApp, email, pw, agent string) *browser {
	t.Helper()
	b := ta.newBrowser()
	req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/login",
		strings.NewReader(url.Values{"email": {email}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", agent)
	if p := b.do(req); p.status != http.StatusSeeOther {
		t.Fatalf("login %s: status %d\n%s", email, p.status, p.body)
	}
	return b
}

func wrongPasswordWithAgent(t *testing.T, ta *testApp, email, agent string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/login",
		strings.NewReader(url.Values{"email": {email}, "password": {"not the password at all"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", agent)
	if p := ta.newBrowser().do(req); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password for %s: status %d", email, p.status)
	}
}

// uiPage is one page to check: how to reach it in its tab.
type uiPage struct {
	name string // for messages and screenshot file names
	path string // GET path
	// prepare, when set, is run instead of the GET to reach the page (for
	// pages that a POST shows: form errors, the password prompt).
	prepare func(t *testing.T, ctx context.Context)
}

// pages returns every page of the site, by who sees it.
func (f *uiFixture) pages() (anon, user, admin []uiPage) {
	base := f.ta.srv.URL
	anon = []uiPage{
		{name: "login", path: "/login"},
		{name: "login-failed", prepare: func(t *testing.T, ctx context.Context) {
			tabDo(t, ctx, "login with a wrong password", chromedp.Navigate(base+"/login"),
				chromedp.SendKeys(chromedp.ID("email"), f.userEmail),
				chromedp.SendKeys(chromedp.ID("password"), "not the password at all"))
			submitForm(t, ctx, `form[action="/login"]`, "/login")
		}},
		{name: "register", path: "/register"},
		{name: "register-errors", prepare: func(t *testing.T, ctx context.Context) {
			tabDo(t, ctx, "register with errors", chromedp.Navigate(base+"/register"),
				chromedp.SendKeys(chromedp.ID("email"), "not-an-email"),
				chromedp.SendKeys(chromedp.ID("password"), "short"))
			submitForm(t, ctx, `form[action="/register"]`, "/register")
		}},
		{name: "login-registered", prepare: func(t *testing.T, ctx context.Context) {
			// The flash and the filled-in email after registering.
			f.registered++
			tabDo(t, ctx, "register", chromedp.Navigate(base+"/register"),
				chromedp.SendKeys(chromedp.ID("email"), fmt.Sprintf("new.person%d@example.net", f.registered)),
				chromedp.SendKeys(chromedp.ID("name"), "New Person"),
				chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"))
			submitForm(t, ctx, `form[action="/register"]`, "/login")
			if !tabRun(t, ctx, chromedp.Evaluate[bool](`!!document.querySelector(".flash")`)) {
				t.Fatal("no flash on the login page after registering")
			}
		}},
		{name: "reset", path: f.resetPath},
		{name: "reset-invalid", path: "/reset/" + strings.Repeat("A", 43)},
		{name: "not-found", path: "/no-such-page"},
	}
	user = []uiPage{
		{name: "profile", path: "/profile"},
		{name: "profile-new-device", prepare: func(t *testing.T, ctx context.Context) {
			// A sign-in from a device new to the account: the user's
			// session shows the notice on its next page.
			agent := uiNewDeviceAgents[f.newDevices%len(uiNewDeviceAgents)]
			f.newDevices++
			f.ta.clock.Advance(time.Second) // after the notice this session showed last
			loginWithAgent(t, f.ta, f.userEmail, f.userPW, agent)
			tabDo(t, ctx, "open /profile", chromedp.Navigate(base+"/profile"))
			shown := tabRun(t, ctx, chromedp.Evaluate[bool](`!!document.getElementById("new-device-notice")`))
			if !shown && f.newDevices <= len(uiNewDeviceAgents) {
				t.Fatalf("no new-device notice after a sign-in from %s", agent)
			}
		}},
		{name: "account", path: "/account"},
		{name: "devices", path: "/sessions"},
		{name: "password", path: "/account/password"},
		{name: "password-errors", prepare: func(t *testing.T, ctx context.Context) {
			tabDo(t, ctx, "change password with errors", chromedp.Navigate(base+"/account/password"),
				chromedp.SendKeys(chromedp.ID("current_password"), "wrong"),
				chromedp.SendKeys(chromedp.ID("password"), "short"))
			submitForm(t, ctx, `form[action="/account/password"]`, "/account/password")
		}},
		{name: "reauth", prepare: func(t *testing.T, ctx context.Context) {
			// Past the re-authentication window, signing out another
			// device asks for the password.
			f.ta.clock.Advance(6 * time.Minute)
			tabDo(t, ctx, "open the devices page", chromedp.Navigate(base+"/sessions"))
			submitForm(t, ctx, `form[action$="/revoke"]`, "")
			tabDo(t, ctx, "find the password prompt", chromedp.WaitVisible(chromedp.ID("reauth_password")))
		}},
	}
	admin = []uiPage{
		{name: "admin-users", path: "/admin/users"},
		{name: "admin-user", path: fmt.Sprintf("/admin/users/%d", f.userID)},
		{name: "admin-sessions", path: "/admin/sessions"},
		{name: "admin-audit", path: "/admin/audit"},
		{name: "admin-audit-errors", path: "/admin/audit?from=yesterday"},
		{name: "admin", path: "/admin"},
	}
	return anon, user, admin
}

// submitForm submits the first form sel finds (form.requestSubmit, as
// pressing its button does), waits for the page it leads to and, when
// wantPath is not empty, checks that it is that path.
func submitForm(t *testing.T, ctx context.Context, sel, wantPath string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Evaluate[chromedp.Void](
		fmt.Sprintf(`document.querySelector(%q).requestSubmit()`, sel)))
	if err != nil {
		t.Fatalf("submit %s: %v", sel, err)
	}
	if u, _ := url.Parse(resp.URL); wantPath != "" && u.Path != wantPath {
		t.Fatalf("submit %s: landed on %s, want %s", sel, resp.URL, wantPath)
	}
}

// visit shows p in the tab ctx with the given Accept-Language.
func visit(t *testing.T, ctx context.Context, base string, p uiPage, lang string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}}); err != nil {
		t.Fatalf("set Accept-Language: %v", err)
	}
	if p.prepare != nil {
		p.prepare(t, ctx)
		return
	}
	tabDo(t, ctx, "open "+p.path, chromedp.Navigate(base+p.path))
}

// setScheme emulates prefers-color-scheme (light or dark) in the tab.
func setScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		t.Fatalf("emulate prefers-color-scheme %s: %v", scheme, err)
	}
}

// setWidth makes the tab's viewport width CSS pixels wide (height 900),
// as a phone (mobile, touch) when width is below 600.
func setWidth(t *testing.T, ctx context.Context, width int64) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
	}
	tabDo(t, ctx, "set the viewport", chromedp.EmulateViewport(width, 900, opts...))
}

// afterRendering wraps the expression expr into a promise of its value
// once the document has loaded and two frames have been rendered: the
// browser gives autofocus its focus in a rendering step, not while
// parsing.
func afterRendering(expr string) string {
	return `new Promise(resolve => {
		const measure = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(` + expr + `)));
		if (document.readyState === "complete") measure(); else addEventListener("load", measure);
	})`
}
