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

	"github.com/latch/latch/web"
)

// The types below mirror the server package's templateData, so this test
// checks the templates against the same field names without importing the
// server (which imports this package).

type stubUser struct {
	ID    int64
	Email string
	Name  string
	Role  string
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
	FormError   string
	Next        string
	Session     sessionView
	Status      int
	Message     string
}

var pages = []string{"login", "register", "profile", "error"}

// parsePage parses one page the way the server does: base.html, every
// partial, then pages/NAME.html.
func parsePage(t *testing.T, name string) *template.Template {
	t.Helper()
	ts, err := template.ParseFS(web.Templates, "base.html", "partials/*.html", "pages/"+name+".html")
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return ts
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
		Status:  404,
		Message: "We could not find that page.",
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
						`<form method="post" action="/logout"`,
						`<input type="hidden" name="csrf_token" value="`+csrfToken+`">`,
						"Log out</button>",
					)
					mustNotContain(t, header, `href="/login"`, `href="/register"`)
				} else {
					mustContain(t, header, `<a href="/login">Log in</a>`, `<a href="/register">Register</a>`)
					mustNotContain(t, header, `href="/profile"`, `action="/logout"`)
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
