package server

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// chooseLanguage sets c's lang cookie through the language switch.
func (c *client) chooseLanguage(lang string) {
	c.app.t.Helper()
	res, body := c.get("/login?lang=" + lang)
	if res.StatusCode != http.StatusSeeOther {
		c.app.t.Fatalf("GET /login?lang=%s: status %d\n%s", lang, res.StatusCode, body)
	}
}

// page is one page a test visits: a GET of path, or a POST of form.
type page struct {
	name   string
	method string
	path   string
	form   url.Values
	status int
}

// pagesOf are the pages c sees as a signed-out visitor, a signed-in user
// or an administrator (who), with the status each answers.
func pagesOf(who, resetToken string) []page {
	switch who {
	case "signed out":
		return []page{
			{"login", "GET", "/login", nil, 200},
			{"register", "GET", "/register", nil, 200},
			{"login empty", "POST", "/login", url.Values{"email": {""}, "password": {""}}, 422},
			{"login wrong", "POST", "/login", url.Values{"email": {"bob@example.com"}, "password": {"wrong"}}, 401},
			{"register errors", "POST", "/register", url.Values{"email": {"not an address"}, "name": {""}, "password": {"short"}}, 422},
			{"register weak", "POST", "/register", url.Values{"email": {"new@example.com"}, "name": {"New"}, "password": {"password1234"}}, 422},
			{"register taken", "POST", "/register", url.Values{"email": {"bob@example.com"}, "name": {"Bob"}, "password": {"correct horse battery staple"}}, 422},
			{"reset link unusable", "GET", "/reset/not-a-token", nil, 404},
			{"reset link", "GET", "/reset/" + resetToken, nil, 200},
			{"reset link weak password", "POST", "/reset/" + resetToken, url.Values{"password": {"password1234"}}, 422},
			{"reset link short password", "POST", "/reset/" + resetToken, url.Values{"password": {"short"}}, 422},
			{"404", "GET", "/no/such/page", nil, 404},
			{"405", "PUT", "/login", url.Values{}, 405},
			{"413", "POST", "/login", url.Values{"email": {strings.Repeat("x", 70<<10)}}, 413},
			{"400 NUL", "POST", "/login", url.Values{"email": {"a\x00b"}, "password": {"x"}}, 400},
		}
	case "signed in":
		return []page{
			{"profile", "GET", "/profile", nil, 200},
			{"account", "GET", "/account", nil, 200},
			{"devices", "GET", "/sessions", nil, 200},
			{"password", "GET", "/account/password", nil, 200},
			{"password errors", "POST", "/account/password", url.Values{"current_password": {""}, "password": {"short"}}, 422},
			{"password wrong", "POST", "/account/password", url.Values{"current_password": {"wrong"}, "password": {"a long new passphrase here"}}, 401},
			{"403 admin page", "GET", "/admin/users", nil, 403},
			{"403 csrf", "POST", "/sessions/revoke-others", url.Values{"csrf_token": {"forged"}}, 403},
			{"404", "GET", "/no/such/page", nil, 404},
			{"404 session", "POST", "/sessions/no-such-handle/revoke", url.Values{}, 404},
		}
	default: // admin
		return []page{
			{"users", "GET", "/admin/users", nil, 200},
			{"users none", "GET", "/admin/users?q=nobody-at-all", nil, 200},
			{"user", "GET", "/admin/users/2", nil, 200},
			{"own account", "GET", "/admin/users/1", nil, 200},
			{"sessions", "GET", "/admin/sessions", nil, 200},
			{"sessions bad ip", "GET", "/admin/sessions?ip=nope", nil, 400},
			{"sessions no account", "GET", "/admin/sessions?email=nobody@example.com", nil, 200},
			{"audit", "GET", "/admin/audit", nil, 200},
			{"audit bad filters", "GET", "/admin/audit?type=nope&from=x&to=y", nil, 400},
			{"audit bad page", "GET", "/admin/audit?page=0", nil, 400},
			{"audit past last page", "GET", "/admin/audit?page=99", nil, 404},
			{"no such account", "GET", "/admin/users/999", nil, 404},
			{"reset link made", "POST", "/admin/users/3/reset-link", url.Values{"next": {"/admin/users/3"}}, 200},
			{"reset link of no account", "POST", "/admin/users/999/reset-link", url.Values{}, 404},
		}
	}
}

// messageID matches what a raw message ID looks like in a page: two or
// more dot-separated lower-case words (checked against the catalogue).
var messageID = regexp.MustCompile(`\b[a-z][a-z0-9_]*(\.[a-z0-9_]+)+\b`)

// englishSentences are the fragments of the English catalogue that a
// Korean page must not contain: each message's text (template fields cut
// out) of at least two words, where the Korean message differs.
func englishSentences(t *testing.T, a *testApp) map[string]string {
	t.Helper()
	c := a.srv.catalog
	out := map[string]string{}
	field := regexp.MustCompile(`\{\{[^}]*\}\}`)
	for _, id := range c.IDs("en") {
		if strings.HasPrefix(id, "format.") {
			continue
		}
		ko := strings.Join(c.Sources("ko", id), "\n")
		for _, en := range c.Sources("en", id) {
			if strings.Contains(ko, en) {
				continue
			}
			for _, frag := range field.Split(en, -1) {
				frag = strings.TrimSpace(frag)
				if strings.Count(frag, " ") >= 1 && len(frag) >= 8 {
					out[frag] = id
				}
			}
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d English sentences: the catalogue was not read", len(out))
	}
	return out
}

// checkPage fails when body, a page in lang, lacks <html lang>, shows a
// raw message ID of the catalogue, or, in Korean, any English sentence of
// the catalogue (a string that bypassed it).
func checkPage(t *testing.T, a *testApp, lang, body string, english map[string]string) {
	t.Helper()
	if !strings.Contains(body, `<html lang="`+lang+`">`) {
		t.Errorf("no <html lang=%q>", lang)
	}
	text := html.UnescapeString(body)
	ids := map[string]bool{}
	for _, id := range a.srv.catalog.IDs("en") {
		ids[id] = true
	}
	for _, m := range messageID.FindAllString(text, -1) {
		if ids[m] {
			t.Errorf("raw message ID %q on the page", m)
		}
	}
	if lang != "ko" {
		return
	}
	for frag, id := range english {
		if strings.Contains(text, frag) {
			t.Errorf("English %q (%s) on the Korean page", frag, id)
		}
	}
}

// TestEveryPageInBothLanguages renders every page signed out, signed in
// and as an administrator, in English and Korean (chosen by the switch's
// cookie, and by Accept-Language), including the 4xx pages, the flash
// messages and the new-device notice, and checks each with checkPage.
func TestEveryPageInBothLanguages(t *testing.T) {
	a := newTestApp(t)
	_, resetToken := withResets(t, a, bobID)
	english := englishSentences(t, a)
	for _, lang := range []string{"en", "ko"} {
		for _, who := range []string{"signed out", "signed in", "admin"} {
			t.Run(lang+"/"+who, func(t *testing.T) {
				var c *client
				switch who {
				case "signed out":
					c = a.newClient(firefoxAgent)
				case "signed in":
					c = a.login("bob@example.com", false)
					// Another device of Bob's: a new-device notice, and a
					// session to list.
					a.seedSession(2, "198.51.100.9", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36", true)
				default:
					c = a.login("admin@example.com", false)
				}
				c.chooseLanguage(lang)
				for _, p := range pagesOf(who, resetToken) {
					t.Run(p.name, func(t *testing.T) {
						form := p.form
						if p.method == "POST" && form != nil {
							form = url.Values{}
							for k, v := range p.form {
								form[k] = v
							}
							if !form.Has("csrf_token") && c.csrf != "" {
								form.Set("csrf_token", c.csrf)
							}
						}
						res, body := c.do(p.method, p.path, form)
						wantStatus(t, res, body, p.status)
						checkPage(t, a, lang, body, english)
					})
				}
			})
		}
	}
}

// TestFlashAndNoticesInBothLanguages: a flash message (log out) and the
// reauthentication page, in both languages.
func TestFlashAndNoticesInBothLanguages(t *testing.T) {
	a := newTestApp(t)
	english := englishSentences(t, a)
	for _, tt := range []struct{ lang, loggedOut, reauth string }{
		{"en", "You have been logged out.", "Confirm your password"},
		{"ko", "로그아웃되었습니다.", "비밀번호 확인"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			c := a.login("bob@example.com", false)
			c.chooseLanguage(tt.lang)
			a.seedSession(2, "198.51.100.9", firefoxAgent, false)
			a.clock.Advance(a.srv.reauthWindow + time.Minute)
			res, body := c.post("/sessions/revoke-others", nil)
			wantStatus(t, res, body, http.StatusOK)
			mustContain(t, body, "<h1>"+tt.reauth+"</h1>")
			checkPage(t, a, tt.lang, body, english)
			res, body = c.post("/sessions/revoke-others", url.Values{"reauth_password": {"wrong"}})
			wantStatus(t, res, body, http.StatusUnauthorized)
			checkPage(t, a, tt.lang, body, english)

			res, body = c.post("/logout", nil)
			wantRedirect(t, res, body, "/login")
			res, body = c.get("/login")
			wantStatus(t, res, body, http.StatusOK)
			mustContain(t, body, tt.loggedOut)
			checkPage(t, a, tt.lang, body, english)
		})
	}
}

// TestErrorPagesInKorean: every row of the error table (403, 404, 405,
// 413, 429, 503, …) renders in Korean for a Korean reader, with no English
// sentence and no raw message ID.
func TestErrorPagesInKorean(t *testing.T) {
	a := newTestApp(t)
	english := englishSentences(t, a)
	errs := []error{
		errors.New("boom"), errFormTooLarge, errFormUnreadable, errFormText, errURLText, errMethod,
		session.ErrMalformedCookie, &user.ValidationError{Field: "email", Message: "x"}, fail.New(fail.Invalid, "x"),
		errNoPage, fail.New(fail.Conflict, "x"), user.ErrEmailTaken, errLoginFailed, fail.New(fail.Forbidden, "x"),
		errCrossOrigin, errCSRF, errNotAdmin, fail.Throttle("x", 3*time.Second), fail.Throttle("x", time.Millisecond),
		fmt.Errorf("%w", session.ErrUnavailable), throttle.ErrUnavailable, fail.New(fail.Unavailable, "x"),
		password.ErrBusy, user.ErrStrengthBusy, fail.New(fail.Busy, "x"),
		withMessage(user.ErrNotFound, "admin.user_not_found"),
	}
	for _, err := range errs {
		t.Run(err.Error(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/profile", nil)
			r.Header.Set("Accept-Language", "ko-KR,ko;q=0.9")
			a.srv.serverError(rec, r, err)
			checkPage(t, a, "ko", rec.Body.String(), english)
			if ra := rec.Header().Get("Retry-After"); ra != "" && !strings.Contains(rec.Body.String(), ra+"초") && rec.Code == 429 {
				t.Errorf("429 page does not say %s초", ra)
			}
		})
	}
}

// TestLanguageSwitch: ?lang= sets the lang cookie (SameSite=Lax, path /,
// not the session cookie) and redirects (303) to the same page without the
// parameter, its other parameters kept; an unknown language sets nothing;
// the target is always a path of this site. The switch is a GET that
// changes no account state: no CSRF token, and signed-in or not alike.
func TestLanguageSwitch(t *testing.T) {
	a := newTestApp(t)
	tests := []struct {
		name, target, location, cookie string
	}{
		{"korean", "/login?lang=ko", "/login", "ko"},
		{"english", "/login?lang=en", "/login", "en"},
		{"other parameters kept", "/admin/audit?type=login.failed&lang=ko&page=2", "/admin/audit?page=2&type=login.failed", "ko"},
		{"unknown language", "/login?lang=fr", "/login", ""},
		{"markup", "/login?lang=%22%3E%3Cscript%3E", "/login", ""},
		{"scheme-relative path", "//evil.example/?lang=ko", "/", "ko"},
		{"backslash path", "/%5Cevil.example/?lang=ko", "/", "ko"},
		{"404 page", "/no/such/page?lang=ko", "/no/such/page", "ko"},
		{"reset link keeps its token", "/reset/abcDEF123_-?lang=ko", "/reset/abcDEF123_-", "ko"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.ts.URL+tt.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = strings.SplitN(tt.target, "?", 2)[0] // keep "//evil.example" as the path
			res, err := a.newClient(firefoxAgent).http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want 303", res.StatusCode)
			}
			if got := res.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			var lang *http.Cookie
			for _, c := range res.Cookies() {
				if c.Name == langCookie {
					lang = c
				}
			}
			if tt.cookie == "" {
				if lang != nil {
					t.Errorf("cookie %v set for an unknown language", lang)
				}
				return
			}
			if lang == nil {
				t.Fatal("no lang cookie")
			}
			if lang.Value != tt.cookie || lang.SameSite != http.SameSiteLaxMode || lang.Path != "/" || lang.MaxAge <= 0 {
				t.Errorf("cookie %+v, want %s, SameSite=Lax, Path=/, a lasting Max-Age", lang, tt.cookie)
			}
			if lang.Secure != a.srv.secure {
				t.Errorf("cookie Secure=%v, want %v: it follows LATCH_COOKIE_SECURE, as the session cookie does", lang.Secure, a.srv.secure)
			}
		})
	}

	// Signed in: the switch works without a CSRF token, changes the page's
	// language, and the session (and its CSRF token) stays.
	c := a.login("bob@example.com", false)
	c.chooseLanguage("ko")
	res, body := c.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, `<html lang="ko">`, "로그아웃", `href="/profile?lang=en"`, `aria-current="true">한국어</a>`)
	res, body = c.post("/logout", nil)
	wantRedirect(t, res, body, "/login")

	// POST with ?lang= is not a switch: it goes to its handler.
	res, body = a.newClient(firefoxAgent).do("POST", "/login?lang=ko", url.Values{"email": {""}, "password": {""}})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
}

// TestAcceptLanguage: without the cookie, the page's language and time
// zone follow Accept-Language; with it, the cookie wins.
func TestAcceptLanguage(t *testing.T) {
	a := newTestApp(t)
	get := func(accept, cookie string) string {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.ts.URL+"/login", nil)
		req.Header.Set("Accept-Language", accept)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: langCookie, Value: cookie})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, res.Header.Values("Vary"))
		buf := make([]byte, 64<<10)
		n, _ := res.Body.Read(buf)
		if !strings.Contains(b.String(), "Accept-Language") {
			t.Errorf("Vary %q lacks Accept-Language", b.String())
		}
		return string(buf[:n])
	}
	mustContain(t, get("ko-KR,ko;q=0.9", ""), `<html lang="ko">`, "<h1>로그인</h1>")
	mustContain(t, get("en-US", ""), `<html lang="en">`, "<h1>Log in</h1>")
	mustContain(t, get("fr-FR", ""), `<html lang="en">`)
	mustContain(t, get("ko-KR", "en"), `<html lang="en">`)
	mustContain(t, get("en-US", "ko"), `<html lang="ko">`)
	mustContain(t, get("", "bogus"), `<html lang="en">`)
}

// TestFixedWordsFilledAtParse: the templates of each language are parsed
// with the fixed words in place (translatedFS): the source has no
// {{t "ID"}} left for a message with no template data, and keeps those
// with data.
func TestFixedWordsFilledAtParse(t *testing.T) {
	a := newTestApp(t)
	for _, lang := range []string{"en", "ko"} {
		fsys := translatedFS{fsys: a.srv.templates, catalog: a.srv.catalog, lang: lang}
		b, err := fsys.ReadFile("pages/login.html")
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		want := map[string]string{"en": "<h1>Log in</h1>", "ko": "<h1>로그인</h1>"}[lang]
		if !strings.Contains(src, want) || strings.Contains(src, `{{t "login.title"}}`) {
			t.Errorf("%s: login.html not filled in:\n%s", lang, src)
		}
		b, err = fsys.ReadFile("pages/admin_users.html")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `{{t "admin.users.count" "Count" .Pager.Total}}`) {
			t.Errorf("%s: a message with data was replaced", lang)
		}
	}
}

// TestLanguageSwitchOnResetLink: the reset page's switch links to the link
// itself (its token, which hideResetToken takes out of the URL for the
// logs), not to /reset/redacted.
func TestLanguageSwitchOnResetLink(t *testing.T) {
	a := newTestApp(t)
	res, body := a.newClient(firefoxAgent).get("/reset/abcDEF123")
	wantStatus(t, res, body, http.StatusNotFound)
	mustContain(t, body, `href="/reset/abcDEF123?lang=ko"`)
	mustNotContain(t, body, "redacted?lang")
}

// TestAdminOverviewInBothLanguages: the admin overview (on the real SQL
// store, which has its counts) passes checkPage in English and Korean,
// chart included (well-formed, with a Korean title).
func TestAdminOverviewInBothLanguages(t *testing.T) {
	a := newOverviewApp(t, overviewBackends[0])
	english := englishSentences(t, a.testApp)
	for _, tt := range []struct{ lang, h1, chartTitle string }{
		{"en", "<h1>Overview</h1>", "Sign-ins and failed sign-ins per hour over the last 48 hours"},
		{"ko", "<h1>개요</h1>", "최근 48시간 동안의 시간별 로그인과 로그인 실패"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			admin := a.signIn("admin@example.com")
			admin.chooseLanguage(tt.lang)
			res, body := admin.get("/admin")
			wantStatus(t, res, body, http.StatusOK)
			mustContain(t, body, tt.h1)
			checkPage(t, a.testApp, tt.lang, body, english)
			if c := parseChart(t, body); c.Title != tt.chartTitle {
				t.Errorf("chart title %q, want %q", c.Title, tt.chartTitle)
			}
		})
	}
}

// TestConcurrentRenderingKeepsEachReader: renderings in both languages at
// once, more of them than idle sets are kept, each get their own reader's
// words (a template set serves one rendering at a time: pagePool).
func TestConcurrentRenderingKeepsEachReader(t *testing.T) {
	a := newTestApp(t)
	const workers, each = 12, 40
	errs := make(chan error, workers)
	for w := range workers {
		lang := []string{"en", "ko"}[w%2]
		go func() {
			r := httptest.NewRequest(http.MethodGet, "/login", nil)
			r.Header.Set("Accept-Language", lang)
			want := map[string]string{"en": "<h1>Log in</h1>", "ko": "<h1>로그인</h1>"}[lang]
			for range each {
				var buf bytes.Buffer
				if err := a.srv.execute(&buf, r, "login", templateData{}); err != nil {
					errs <- err
					return
				}
				if b := buf.String(); !strings.Contains(b, want) || !strings.Contains(b, `<html lang="`+lang+`">`) {
					errs <- fmt.Errorf("%s rendering lacks %q", lang, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestMessageIDsInCodeExist: every string in the server's code that looks
// like a message ID of a catalogue section ("admin.disable_self") is in
// the catalogue, so that a mistyped ID in a branch no test reaches still
// fails (it would show as itself). Flash codes and event words are built
// from a prefix and are checked by TestFlashAndEventWords.
func TestMessageIDsInCodeExist(t *testing.T) {
	a := newTestApp(t)
	ids, sections := map[string]bool{}, map[string]bool{}
	for _, id := range a.srv.catalog.IDs("en") {
		ids[id] = true
		sections[strings.SplitN(id, ".", 2)[0]] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			id := m[1]
			if !sections[strings.SplitN(id, ".", 2)[0]] || strings.HasSuffix(id, ".") {
				continue
			}
			n++
			if !ids[id] {
				t.Errorf("%s: %q is not in the catalogue", f, id)
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d message IDs found in the code", n)
	}
}

// TestFlashAndEventWords: every flash code and every event type and way
// of acting has its words in the catalogue.
func TestFlashAndEventWords(t *testing.T) {
	a := newTestApp(t)
	ids := map[string]bool{}
	for _, id := range a.srv.catalog.IDs("en") {
		ids[id] = true
	}
	for code := range flashCodes {
		if !ids[flashMessage(code)] {
			t.Errorf("flash %q: no %s", code, flashMessage(code))
		}
	}
	for _, typ := range audit.Types {
		if id := eventWords[typ]; !ids[id] {
			t.Errorf("event type %q: no words (%q)", typ, id)
		}
	}
	for via, id := range viaWords {
		if !ids[id] {
			t.Errorf("via %q: no %s", via, id)
		}
	}
}

// TestLanguageSwitchNotOnAPIOrHealth: ?lang= is ignored on the JSON API
// (which sets no cookie; a 303 would also break a CORS request) and on
// the health checks: no redirect, no lang cookie (second reviews).
func TestLanguageSwitchNotOnAPIOrHealth(t *testing.T) {
	a := newTestApp(t)
	for _, path := range []string{"/api/v1/me?lang=ko", "/api/v1/openapi.json?lang=en", "/healthz?lang=ko", "/readyz?lang=ko"} {
		res, body := a.newClient(firefoxAgent).get(path)
		if res.StatusCode == http.StatusSeeOther {
			t.Errorf("GET %s: 303 to %s, want no language switch", path, res.Header.Get("Location"))
		}
		for _, c := range res.Cookies() {
			if c.Name == langCookie {
				t.Errorf("GET %s set the %s cookie\n%s", path, langCookie, body)
			}
		}
	}
}
