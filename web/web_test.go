package web_test

import (
	"bytes"
	"html/template"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/web"
)

// The types below mirror the server package's templateData, so this test
// checks the templates against the same field names without importing the
// server (which imports this package).

type stubUser struct {
	ID        int64
	Email     string
	Name      string
	Role      string
	Disabled  bool
	CreatedAt time.Time
}

type userRef struct {
	ID    int64
	Email string
	Name  string
}

type sessionRow struct {
	Handle    string
	Device    string
	UserAgent string
	IP        string
	Created   time.Time
	LastSeen  time.Time
	Remember  bool
	Current   bool
	User      userRef
}

type eventRow struct {
	Time          time.Time
	Type          string
	What          string
	Via           string
	Actor         userRef
	Subject       userRef
	Email         string
	IP            string
	Device        string
	UserAgent     string
	SessionHandle string
	Detail        string
	ActedBy       string
}

type pager struct {
	Page, Pages, Total int
	More               bool
	Prev, Next         string
}

type filterView struct {
	Q, Email, IP, User, Type, From, To string
}

type option struct {
	Value, Label string
	Selected     bool
}

type hiddenField struct{ Name, Value string }

type reauthView struct {
	Action string
	Fields []hiddenField
	Cancel string
}

type deviceNotice struct {
	Device string
	Time   time.Time
	When   string
}

type signInsView struct {
	Last        *eventRow
	LastFailed  *eventRow
	Unavailable bool
}

type formData struct {
	Email    string
	Name     string
	Remember bool
}

type sessionView struct {
	Created          time.Time
	AbsoluteDeadline time.Time
	IdleDeadline     time.Time
	Remember         bool
}

type templateData struct {
	Title       string
	CSRFToken   string
	User        *stubUser
	Flash       string
	Form        formData
	FieldErrors map[string]string
	TimeZones   []option
	AutoZone    string
	FormError   string
	Next        string
	Session     sessionView
	Status      int
	Message     string

	Wide       bool
	Here       string
	Notice     string
	Sessions   []sessionRow
	Users      []stubUser
	Subject    *stubUser
	Events     []eventRow
	Pager      pager
	Filter     filterView
	EventTypes []option
	Reauth     reauthView

	NewDevice *deviceNotice
	SignIns   signInsView

	PasswordChanged bool
	Ended           []sessionRow
	Reset           resetView
	ResetLink       *resetLinkView
	// Overview is the admin overview's counts and chart (server's
	// overviewView); nil here: internal/server's TestAdminOverview renders
	// and parses the page with data.
	Overview *struct{}
}

type resetView struct {
	Action  string
	Email   string
	Invalid bool
}

type resetLinkView struct {
	URL     string
	Expires time.Time
}

var pages = []string{
	"login", "register", "profile", "error", "sessions", "reauth",
	"admin_sessions", "admin_users", "admin_user", "admin_audit", "admin_overview",
	"account_password", "reset", "account",
}

// parsePage parses one page the way the server does: base.html, every
// partial, then pages/NAME.html.
func parsePage(t testing.TB, name string) *template.Template {
	t.Helper()
	return parsePageFor(t, name, englishUTC(t))
}

// parsePageFor parses one page for the reader *l.
func parsePageFor(t testing.TB, name string, l *web.Locale) *template.Template {
	t.Helper()
	ts, err := template.New(name).Funcs(web.Funcs(l)).ParseFS(web.Templates, "base.html", "partials/*.html", "pages/"+name+".html")
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return ts
}

// englishUTC is the reader the templates are checked for: English, UTC.
func englishUTC(t testing.TB) *web.Locale {
	t.Helper()
	c, err := locale.Load(web.Locales)
	if err != nil {
		t.Fatalf("catalogue: %v", err)
	}
	var l web.Locale = c.Reader("en", time.UTC, nil)
	return &l
}

func render(t *testing.T, name string, data templateData) string {
	t.Helper()
	var buf bytes.Buffer
	if err := parsePage(t, name).ExecuteTemplate(&buf, "base", data); err != nil {
		t.Fatalf("execute %s: %v", name, err)
	}
	return buf.String()
}

const csrfToken = "tok-3f9a2c"

func anonymous() templateData {
	return templateData{}
}

func signedIn() templateData {
	created := time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600))
	return templateData{
		CSRFToken: csrfToken,
		User: &stubUser{
			ID:    7,
			Email: "ada@example.com",
			Name:  `<script>alert("x")</script>`,
			Role:  "admin",
		},
		Session: sessionView{
			Created:          created,
			AbsoluteDeadline: created.Add(12 * time.Hour),
			IdleDeadline:     created.Add(30 * time.Minute),
			Remember:         true,
		},
		Status:   404,
		Message:  "We could not find that page.",
		Here:     "/admin/sessions?ip=203.0.113.7&page=2",
		Sessions: sampleSessions(created),
		Users: []stubUser{
			{ID: 7, Email: "ada@example.com", Name: "Ada", Role: "admin", CreatedAt: created},
			{ID: 8, Email: "mallory@example.com", Name: xssName, Role: "user", Disabled: true, CreatedAt: created},
		},
		Subject: &stubUser{ID: 8, Email: "mallory@example.com", Name: xssName, Role: "user", CreatedAt: created},
		Events:  sampleEvents(created),
		Pager:   pager{Page: 2, Pages: 3, Total: 120, Prev: "/admin/sessions?ip=203.0.113.7", Next: "/admin/sessions?ip=203.0.113.7&page=3"},
		Filter:  filterView{Q: xssName, Email: "mallory@example.com", IP: "203.0.113.7", User: "mallory@example.com", Type: "logout", From: "2026-03-01", To: "2026-03-14"},
		EventTypes: []option{
			{Value: "", Label: "Any event"},
			{Value: "login.succeeded", Label: "Signed in"},
			{Value: "logout", Label: "Signed out", Selected: true},
		},
		Reauth: reauthView{
			Action: "/admin/users/8/disable",
			Fields: []hiddenField{{Name: "next", Value: "/admin/users/8"}, {Name: "note", Value: xssName}},
			Cancel: "/admin/users/8",
		},
	}
}

// xssName and xssAgent are what a hostile user may choose as a display name
// and send as a User-Agent; every page must print them as inert text.
const (
	xssName  = `<script>alert(1)</script>`
	xssAgent = `<script>alert("ua")</script><img src=x onerror=alert(2)>`
)

func sampleSessions(at time.Time) []sessionRow {
	return []sessionRow{
		{
			Handle: "AAAAAAAAAAAAAAAAAAAAAA", Device: "Firefox 128 on Linux",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
			IP:        "198.51.100.4", Created: at, LastSeen: at.Add(time.Hour), Current: true,
			User: userRef{ID: 7, Email: "ada@example.com", Name: "Ada"},
		},
		{
			Handle: "BBBBBBBBBBBBBBBBBBBBBB", Device: "Unknown browser", UserAgent: xssAgent,
			IP: "203.0.113.7", Created: at, LastSeen: at.Add(30 * time.Minute), Remember: true,
			User: userRef{ID: 8, Email: "mallory@example.com", Name: xssName},
		},
	}
}

func sampleEvents(at time.Time) []eventRow {
	return []eventRow{
		{
			Time: at, Type: "login.failed", What: "Failed sign-in", Email: xssName,
			Subject: userRef{ID: 8, Email: "mallory@example.com", Name: xssName},
			IP:      "203.0.113.7", Device: "Unknown browser", UserAgent: xssAgent, Detail: "wrong password",
		},
		{
			Time: at.Add(time.Minute), Type: "session.revoked", What: "Session ended by an administrator",
			Actor:   userRef{ID: 7, Email: "ada@example.com", Name: "Ada"},
			Subject: userRef{ID: 9},
			IP:      "198.51.100.4", Device: "Firefox 128 on Linux", SessionHandle: "BBBBBBBBBBBBBBBBBBBBBB",
			Detail: "Unknown browser, 203.0.113.7",
		},
	}
}

func mustContain(t *testing.T, html string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(html, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, html string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(html, u) {
			t.Errorf("output contains %q", u)
		}
	}
}

var (
	idAttr        = regexp.MustCompile(`\sid="([^"]+)"`)
	describedAttr = regexp.MustCompile(`aria-describedby="([^"]+)"`)
	forAttr       = regexp.MustCompile(`\sfor="([^"]+)"`)
)

// checkReferences reports aria-describedby and label for= values that name
// no element, and ids used twice.
func checkReferences(t *testing.T, html string) {
	t.Helper()
	ids := map[string]bool{}
	for _, m := range idAttr.FindAllStringSubmatch(html, -1) {
		if ids[m[1]] {
			t.Errorf("id %q used twice", m[1])
		}
		ids[m[1]] = true
	}
	for _, m := range describedAttr.FindAllStringSubmatch(html, -1) {
		for _, id := range strings.Fields(m[1]) {
			if !ids[id] {
				t.Errorf("aria-describedby names missing id %q", id)
			}
		}
	}
	for _, m := range forAttr.FindAllStringSubmatch(html, -1) {
		if !ids[m[1]] {
			t.Errorf("label for=%q names no element", m[1])
		}
	}
}

// TestEveryPage renders every page signed in and anonymous and checks what
// must hold on all of them: the layout, the CSP rules (no scripts, no inline
// styles) and the CSRF field's presence.
func TestEveryPage(t *testing.T) {
	for _, page := range pages {
		for _, tc := range []struct {
			name string
			data templateData
		}{
			{"anonymous", anonymous()},
			{"signed in", signedIn()},
		} {
			t.Run(page+"/"+tc.name, func(t *testing.T) {
				html := render(t, page, tc.data)

				mustContain(t, html,
					"<!doctype html>",
					`<html lang="en">`,
					`<meta charset="utf-8">`,
					`<meta name="viewport" content="width=device-width, initial-scale=1">`,
					`<link rel="stylesheet" href="/static/style.css">`,
					`<a class="brand" href="/">Latch</a>`,
					`<main id="main"`,
				)
				mustNotContain(t, html,
					"<script", "<style", "style=", "javascript:", "http://", "https://",
					"<no value>", "ZgotmplZ",
				)
				checkReferences(t, html)

				header := between(t, html, "<header", "</header>")
				if tc.data.User != nil {
					mustContain(t, header,
						`<span class="site-nav-user">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>`,
						`<a href="/profile">Profile</a>`,
						`<a href="/sessions">Your devices</a>`,
						`<a href="/admin">Admin</a>`,
						`<form method="post" action="/logout"`,
						`<input type="hidden" name="csrf_token" value="`+csrfToken+`">`,
						"Log out</button>",
					)
					mustNotContain(t, header, `href="/login"`, `href="/register"`)
				} else {
					mustContain(t, header, `<a href="/login">Log in</a>`, `<a href="/register">Register</a>`)
					mustNotContain(t, header, `href="/profile"`, `action="/logout"`, `href="/sessions"`, `href="/admin`)
					mustNotContain(t, html, "csrf_token")
				}
			})
		}
	}
}

// between returns the part of s from the first start to the following end,
// inclusive.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("output lacks %q", start)
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("output lacks %q after %q", end, start)
	}
	return s[i : i+j+len(end)]
}

func TestFlash(t *testing.T) {
	data := anonymous()
	data.Flash = "You have been logged out."
	html := render(t, "login", data)
	mustContain(t, html, `<p class="flash" role="status">You have been logged out.</p>`)

	if html := render(t, "login", anonymous()); strings.Contains(html, `role="status"`) {
		t.Error("flash area shown with no flash message")
	}
}

func TestLogin(t *testing.T) {
	t.Run("blank", func(t *testing.T) {
		html := render(t, "login", anonymous())
		mustContain(t, html,
			"<title>Log in · Latch</title>",
			`<form method="post" action="/login" class="form" novalidate>`,
			`type="email" id="email" name="email" value="" autocomplete="username" autofocus`,
			`type="password" id="password" name="password" autocomplete="current-password"`,
			`<input type="checkbox" id="remember" name="remember" value="on">`,
			`<label for="remember">Remember me on this device</label>`,
			`<button type="submit" class="button">Log in</button>`,
			`<a href="/register">Create an account</a>`,
		)
		mustNotContain(t, html, `name="next"`, `role="alert"`, "aria-invalid")
	})

	t.Run("failed attempt", func(t *testing.T) {
		data := anonymous()
		data.Form = formData{Email: `a"b@example.com`, Remember: true}
		data.FormError = "Incorrect email or password."
		data.Next = "/profile?tab=sessions&x=1"
		html := render(t, "login", data)
		mustContain(t, html,
			`<p class="alert" id="form-error" role="alert">Incorrect email or password.</p>`,
			`value="a&#34;b@example.com"`,
			`name="remember" value="on" checked>`,
			`<input type="hidden" name="next" value="/profile?tab=sessions&amp;x=1">`,
		)
		if strings.Index(html, `role="alert"`) > strings.Index(html, `<form method="post" action="/login"`) {
			t.Error("form error is not above the form")
		}
	})

	t.Run("field errors", func(t *testing.T) {
		data := anonymous()
		data.FieldErrors = map[string]string{"email": "Enter your email address."}
		html := render(t, "login", data)
		mustContain(t, html,
			`aria-invalid="true" aria-describedby="email-error"`,
			`<p class="field-error" id="email-error">Enter your email address.</p>`,
		)
		checkReferences(t, html)
	})
}

func TestRegister(t *testing.T) {
	t.Run("blank", func(t *testing.T) {
		html := render(t, "register", anonymous())
		mustContain(t, html,
			`<form method="post" action="/register" class="form" novalidate>`,
			`name="email" value="" autocomplete="username"`,
			`name="name" value="" autocomplete="name"`,
			`name="password" autocomplete="new-password" required aria-describedby="password-hint">`,
			`<p class="field-hint" id="password-hint">At least 12 characters. Any characters, including spaces.</p>`,
			`<button type="submit" class="button">Create account</button>`,
			`<a href="/login">Log in</a>.`,
		)
		mustNotContain(t, html, "aria-invalid", `class="field-error"`)
	})

	t.Run("every field wrong", func(t *testing.T) {
		data := anonymous()
		data.Form = formData{Email: "ada@example", Name: `<b>Ada</b>`}
		data.FieldErrors = map[string]string{
			"email":    "Enter an email address like name@example.com.",
			"name":     "Enter your name.",
			"password": "Use at least 12 characters.",
		}
		html := render(t, "register", data)
		mustContain(t, html,
			`value="ada@example" autocomplete="username" autofocus required aria-invalid="true" aria-describedby="email-error">`,
			`value="&lt;b&gt;Ada&lt;/b&gt;" autocomplete="name" required aria-invalid="true" aria-describedby="name-error">`,
			`autocomplete="new-password" required aria-invalid="true" aria-describedby="password-error password-hint">`,
			`<p class="field-error" id="email-error">Enter an email address like name@example.com.</p>`,
			`<p class="field-error" id="name-error">Enter your name.</p>`,
			`<p class="field-error" id="password-error">Use at least 12 characters.</p>`,
		)
		checkReferences(t, html)
		// The password is never written back into the page.
		if regexp.MustCompile(`name="password" value=`).MatchString(html) {
			t.Error("password field has a value attribute")
		}
	})
}

func TestProfile(t *testing.T) {
	data := signedIn()
	html := render(t, "profile", data)
	mustContain(t, html,
		"<title>Profile · Latch</title>",
		`<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>`,
		`<dd id="account-email">ada@example.com</dd>`,
		`<dd id="account-role">Administrator</dd>`,
		"This session</h2>",
		`<dd id="session-created"><time datetime="2026-03-14T08:26:53Z">14 Mar 2026, 08:26 UTC</time></dd>`,
		`<dd id="session-absolute"><time datetime="2026-03-14T20:26:53Z">14 Mar 2026, 20:26 UTC</time></dd>`,
		`<dd id="session-idle"><time datetime="2026-03-14T08:56:53Z">14 Mar 2026, 08:56 UTC</time></dd>`,
		`<dd id="session-remember">Yes</dd>`,
	)

	data.Session.Remember = false
	data.User.Role = "user"
	html = render(t, "profile", data)
	mustContain(t, html, `<dd id="session-remember">No</dd>`, `<dd id="account-role">User</dd>`)
}

// TestAccount: "Your account" shows the principal and this session from
// the page data alone, and links to the other account pages.
func TestAccount(t *testing.T) {
	data := signedIn()
	html := render(t, "account", data)
	mustContain(t, html,
		"<title>Your account · Latch</title>",
		"<h1>Your account</h1>",
		`<dd id="account-email">ada@example.com</dd>`,
		`<dd id="account-name">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</dd>`,
		`<dd id="account-role">Administrator</dd>`,
		`<dd id="session-created"><time datetime="2026-03-14T08:26:53Z">14 Mar 2026, 08:26 UTC</time></dd>`,
		`<dd id="session-absolute"><time datetime="2026-03-14T20:26:53Z">14 Mar 2026, 20:26 UTC</time></dd>`,
		`<dd id="session-idle"><time datetime="2026-03-14T08:56:53Z">14 Mar 2026, 08:56 UTC</time></dd>`,
		`<dd id="session-remember">Yes</dd>`,
		`<a href="/profile">Your profile</a>`, `<a href="/sessions">Your devices</a>`, `<a href="/account/password">Change your password</a>`,
	)
	data.User.Role = "user"
	data.Session.Remember = false
	mustContain(t, render(t, "account", data), `<dd id="account-role">User</dd>`, `<dd id="session-remember">No</dd>`)
}

func TestError(t *testing.T) {
	for _, status := range []int{400, 403, 404, 405, 413, 429, 503} {
		data := anonymous()
		data.Status = status
		data.Message = "Plain words & <no> markup."
		html := render(t, "error", data)
		mustContain(t, html,
			"Error "+strconv.Itoa(status),
			"<p>Plain words &amp; &lt;no&gt; markup.</p>",
			`<a href="/">Go to the home page</a>`,
		)
	}

	data := anonymous()
	data.Title, data.Status = "Page not found", 404
	mustContain(t, render(t, "error", data), "<title>Page not found · Latch</title>", "<h1>Page not found</h1>")
}

// TestStatic checks that the files the layout links exist and that no
// script ships at all (the CSP allows none).
func TestStatic(t *testing.T) {
	for _, name := range []string{"style.css", "favicon.svg"} {
		b, err := fs.ReadFile(web.Static, name)
		if err != nil {
			t.Fatalf("static %s: %v", name, err)
		}
		if len(b) == 0 {
			t.Errorf("static %s is empty", name)
		}
	}
	err := fs.WalkDir(web.Static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".mjs") {
			t.Errorf("static holds a script: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	css, _ := fs.ReadFile(web.Static, "style.css")
	mustNotContain(t, string(css), "@import", "@font-face", "url(", "http:", "https:")

	svg, _ := fs.ReadFile(web.Static, "favicon.svg")
	mustNotContain(t, string(svg), "<script", "<foreignObject", "href=")
	if regexp.MustCompile(`\son[a-z]+\s*=`).Match(svg) {
		t.Error("favicon.svg has an event-handler attribute")
	}
}

// escapedName and escapedAgent are xssName and xssAgent as html/template
// prints them in text.
const (
	escapedName  = `&lt;script&gt;alert(1)&lt;/script&gt;`
	escapedAgent = `&lt;script&gt;alert(&#34;ua&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;`
)

func TestHeaderAdminLink(t *testing.T) {
	data := signedIn()
	data.User.Role = "user"
	header := between(t, render(t, "profile", data), "<header", "</header>")
	mustContain(t, header, `<a href="/sessions">Your devices</a>`)
	mustNotContain(t, header, `href="/admin`)
}

func TestProfileActivity(t *testing.T) {
	html := render(t, "profile", signedIn())
	activity := between(t, html, `<section aria-labelledby="activity-heading">`, "</section>")
	mustContain(t, activity,
		"Recent security activity</h2>",
		"Was this you?",
		`<span class="activity-what">Failed sign-in</span>`,
		`<time datetime="2026-03-14T08:26:53Z">14 Mar 2026, 08:26 UTC</time>`,
		`<span class="cell-note">203.0.113.7 · Unknown browser</span>`,
		`<span class="activity-what">Session ended by an administrator</span>`,
	)
	mustContain(t, html, `<a href="/sessions">Your devices</a>: see and sign out`)

	data := signedIn()
	data.Events = nil
	mustContain(t, render(t, "profile", data), "<p>No activity recorded yet.</p>")

	data.Notice = "Your recent activity cannot be shown right now."
	html = render(t, "profile", data)
	mustContain(t, html, `<p class="notice" role="status">Your recent activity cannot be shown right now.</p>`)
	mustNotContain(t, html, "No activity recorded yet.")
}

func TestSessionsPage(t *testing.T) {
	html := render(t, "sessions", signedIn())
	mustContain(t, html,
		"<title>Your devices · Latch</title>",
		"<h1>Your devices</h1>",
		`<h2 class="device-name">Firefox 128 on Linux <span class="badge">This device</span></h2>`,
		"This is the device you are using. To end this session, use Log out.",
		`<h2 class="device-name">Unknown browser</h2>`,
		`<dd>203.0.113.7</dd>`,
		`<dd>Yes</dd>`,
		`<p class="ua">`+escapedAgent+`</p>`,
		`<form method="post" action="/sessions/BBBBBBBBBBBBBBBBBBBBBB/revoke" class="inline-form">`,
		`<form method="post" action="/sessions/revoke-others" class="inline-form">`,
		"Sign out all other sessions</button>",
	)
	// The current session has no Sign out button of its own.
	mustNotContain(t, html, "/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke")
	if n := strings.Count(html, `name="csrf_token" value="`+csrfToken+`"`); n != 3 {
		t.Errorf("%d CSRF fields, want 3 (logout, revoke, revoke others)", n)
	}

	data := signedIn()
	data.Sessions = data.Sessions[:1]
	mustNotContain(t, render(t, "sessions", data), "/sessions/revoke-others")
}

func TestReauth(t *testing.T) {
	data := signedIn()
	html := render(t, "reauth", data)
	mustContain(t, html,
		"<title>Confirm your password · Latch</title>",
		"<h1>Confirm your password</h1>",
		`<form method="post" action="/admin/users/8/disable" class="form" novalidate>`,
		`<input type="hidden" name="csrf_token" value="`+csrfToken+`">`,
		`<input type="hidden" name="next" value="/admin/users/8">`,
		`<input type="hidden" name="note" value="`+escapedName+`">`,
		`<input type="password" id="reauth_password" name="reauth_password" autocomplete="current-password" autofocus required>`,
		`<a href="/admin/users/8">Cancel</a>`,
	)
	mustNotContain(t, html, `role="alert"`)

	data.FormError = "That password is not correct. Try again."
	html = render(t, "reauth", data)
	mustContain(t, html,
		`<p class="alert" id="form-error" role="alert">That password is not correct. Try again.</p>`,
		`autocomplete="current-password" autofocus required aria-invalid="true" aria-describedby="form-error">`,
	)
	checkReferences(t, html)
}

func TestAdminSessions(t *testing.T) {
	data := signedIn()
	data.Title, data.Wide = "Sessions", true
	html := render(t, "admin_sessions", data)
	mustContain(t, html,
		`<main id="main" class="container container-wide">`,
		`<a href="/admin/sessions" aria-current="page">Sessions</a>`,
		`<form method="get" action="/admin/sessions" class="filters" novalidate>`,
		`name="email" value="mallory@example.com"`,
		`name="ip" value="203.0.113.7"`,
		"120 active sessions",
		`<div class="table-wrap" role="region" aria-labelledby="sessions-caption" tabindex="0">`,
		`<a href="/admin/users/8" class="cell-email" title="mallory@example.com">mallory@example.com</a><span class="cell-note">`+escapedName+`</span>`,
		`<summary>Browser details</summary><span class="ua">`+escapedAgent+`</span>`,
		`<form method="post" action="/admin/sessions/BBBBBBBBBBBBBBBBBBBBBB/kill" class="inline-form">`,
		`<input type="hidden" name="next" value="/admin/sessions?ip=203.0.113.7&amp;page=2">`,
		`<a href="/admin/sessions?ip=203.0.113.7" rel="prev">Previous page</a>`,
		`<span class="pager-position">Page 2 of 3</span>`,
		`<a href="/admin/sessions?ip=203.0.113.7&amp;page=3" rel="next">Next page</a>`,
	)
	// The admin's own current session has no Kill button.
	mustNotContain(t, html, "/admin/sessions/AAAAAAAAAAAAAAAAAAAAAA/kill")

	data.Sessions, data.Notice = nil, "No account has this email address."
	html = render(t, "admin_sessions", data)
	mustContain(t, html, `<p class="notice" role="status">No account has this email address.</p>`)
	mustNotContain(t, html, "<table", "No active sessions match.")

	data.Notice, data.FieldErrors = "", map[string]string{"ip": "Enter an IP address such as 203.0.113.7 or 2001:db8::1."}
	html = render(t, "admin_sessions", data)
	mustContain(t, html,
		`aria-invalid="true" aria-describedby="ip-error">`,
		`<p class="field-error" id="ip-error">Enter an IP address such as 203.0.113.7 or 2001:db8::1.</p>`,
	)
	checkReferences(t, html)
}

func TestAdminUsers(t *testing.T) {
	data := signedIn()
	data.Title = "Accounts"
	html := render(t, "admin_users", data)
	mustContain(t, html,
		`<a href="/admin/users" aria-current="page">Accounts</a>`,
		`<input type="text" id="q" name="q" value="`+escapedName+`"`,
		`<td class="cell-lead"><a href="/admin/users/8" class="cell-email" title="mallory@example.com">mallory@example.com</a></td>`,
		`<td data-label="Name">`+escapedName+`</td>`,
		`<td data-label="Role">Administrator</td>`,
		`<span class="badge badge-warn">Disabled</span>`,
		"120 accounts",
	)
	data.Users = nil
	mustContain(t, render(t, "admin_users", data), "<p>No accounts match.</p>")
}

func TestAdminUser(t *testing.T) {
	data := signedIn()
	html := render(t, "admin_user", data)
	mustContain(t, html,
		"<h1>"+escapedName+"</h1>",
		`<dd id="subject-email">mallory@example.com</dd>`,
		`<dd id="subject-status">Active</dd>`,
		`<form method="post" action="/admin/users/8/kill-sessions" class="inline-form">`,
		`<form method="post" action="/admin/users/8/disable" class="inline-form">`,
		"Disable account</button>",
		`<caption id="sessions-caption">`,
		`<caption id="events-caption">`,
		`<span class="cell-note">entered as: `+escapedName+`</span>`,
		`Account 9 <span class="cell-note">deleted</span>`,
		`<a href="/admin/audit?user=mallory%40example.com">`,
	)
	mustNotContain(t, html, "/enable")

	data.Subject.Disabled = true
	html = render(t, "admin_user", data)
	mustContain(t, html, `<dd id="subject-status">Disabled: cannot log in</dd>`, `action="/admin/users/8/enable"`, "Enable account</button>")
	mustNotContain(t, html, "/disable")

	// On their own account an admin gets no Disable button.
	data.Subject = &stubUser{ID: 7, Email: "ada@example.com", Name: "Ada", Role: "admin"}
	html = render(t, "admin_user", data)
	mustContain(t, html, "This is your own account", "Kill all sessions</button>")
	mustNotContain(t, html, "/disable", "/enable")
}

func TestAdminAudit(t *testing.T) {
	data := signedIn()
	data.Title = "Security events"
	html := render(t, "admin_audit", data)
	mustContain(t, html,
		`<a href="/admin/audit" aria-current="page">Security events</a>`,
		`<input type="email" id="user" name="user" value="mallory@example.com"`,
		`<option value="logout" selected>Signed out</option>`,
		`<option value="">Any event</option>`,
		`<input type="date" id="from" name="from" value="2026-03-01">`,
		`<input type="date" id="to" name="to" value="2026-03-14">`,
		"120 events",
		`<td class="cell-lead" data-label="Event">Failed sign-in<span class="cell-note">login.failed</span></td>`,
		`<summary>Browser details</summary><span class="ua">`+escapedAgent+`</span>`,
		`<span class="cell-note">session <span class="cell-id">BBBBBBBBBBBBBBBBBBBBBB</span></span>`,
	)
	mustNotContain(t, html, "More than")

	// A bounded count: more than 1,000 events, and more pages than 20.
	bounded := data
	bounded.Pager = pager{Page: 1, Pages: 20, Total: 1000, More: true, Next: "/admin/audit?page=2"}
	html = render(t, "admin_audit", bounded)
	mustContain(t, html, "More than 1000 events", "Page 1 of more than 20", `<a href="/admin/audit?page=2" rel="next">`)

	data.Events = nil
	data.FieldErrors = map[string]string{"from": "Enter a date as YYYY-MM-DD, such as 2026-03-14.", "to": "The end date must not be before the start date.", "type": "Choose an event type from the list."}
	html = render(t, "admin_audit", data)
	mustContain(t, html,
		`<p class="field-error" id="from-error">`, `<p class="field-error" id="to-error">`, `<p class="field-error" id="type-error">`,
		`aria-describedby="type-error"`,
	)
	mustNotContain(t, html, "No events match.")
	checkReferences(t, html)
}

// TestTimeTag: the <time> element of a time in any zone has an RFC 3339
// datetime in UTC, and as text the time in the reader's zone and language
// (English in UTC: the text the pages have always shown; Korean in
// Asia/Seoul: the "2026년 12월 1일 15:09").
func TestTimeTag(t *testing.T) {
	c, err := locale.Load(web.Locales)
	if err != nil {
		t.Fatal(err)
	}
	seoul, err := locale.LoadZone("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 15, 9, 30, 0, time.FixedZone("KST", 9*3600))
	for _, tc := range []struct {
		lang string
		zone *time.Location
		want string
	}{
		{"en", time.UTC, `<time datetime="2026-12-01T06:09:30Z">1 Dec 2026, 06:09 UTC</time>`},
		{"en", seoul, `<time datetime="2026-12-01T06:09:30Z">1 Dec 2026, 15:09 KST</time>`},
		{"ko", seoul, `<time datetime="2026-12-01T06:09:30Z">2026년 12월 1일 15:09</time>`},
		// A Korean reader takes an unlabelled time for KST: elsewhere the zone is named.
		{"ko", time.UTC, `<time datetime="2026-12-01T06:09:30Z">2026년 12월 1일 06:09 (UTC)</time>`},
	} {
		var l web.Locale = c.Reader(tc.lang, tc.zone, nil)
		got := string(web.Funcs(&l)["timeTag"].(func(time.Time) template.HTML)(at))
		if got != tc.want {
			t.Errorf("%s %s: timeTag = %q, want %q", tc.lang, tc.zone, got, tc.want)
		}
	}
}

// BenchmarkRender times executing the light account page and the profile
// (with its sample activity) as the server does, into a buffer: the
// template share of a signed-in request's CPU (README, make bench).
func BenchmarkRender(b *testing.B) {
	for _, name := range []string{"account", "profile"} {
		ts, data := parsePage(b, name), signedIn()
		b.Run(name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := ts.ExecuteTemplate(&buf, "base", data); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(buf.Len()))
		})
	}
}

// TestTemplateMessageIDsExist: every message ID a template names ({{t
// "ID"}}, (t "ID")) is in the catalogue, whether or not a test renders
// the branch it is in.
func TestTemplateMessageIDsExist(t *testing.T) {
	c, err := locale.Load(web.Locales)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, id := range c.IDs("en") {
		ids[id] = true
	}
	call := regexp.MustCompile(`[{(]-? ?t(?:HTML)? "([^"]+)"`)
	n := 0
	err = fs.WalkDir(web.Templates, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.Templates, path)
		if err != nil {
			return err
		}
		for _, m := range call.FindAllStringSubmatch(string(b), -1) {
			n++
			if !ids[m[1]] {
				t.Errorf("%s: message %q is not in the catalogue", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 150 {
		t.Errorf("only %d message IDs found in the templates", n)
	}
}
