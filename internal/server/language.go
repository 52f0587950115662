package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latch/latch/internal/locale"
)

// This file chooses the language and time zone a page is rendered in
// (internal/locale has the rules) and answers the language switch.

// langCookie is the cookie that keeps a reader's choice of language: not
// the session cookie (anonymous readers choose too), not HttpOnly-worthy
// (it holds "en" or "ko", nothing secret), SameSite=Lax, a year long.
const langCookie = "lang"

// langCookieAge is how long the choice of language is kept.
const langCookieAge = 365 * 24 * time.Hour

// readerOf is whom r's page is for: the language of the lang cookie, else
// of Accept-Language, else English (locale.Catalog.Negotiate); the time
// zone the signed-in account chose on the profile, else one from the
// Accept-Language region, else UTC (locale.Zone).
func (s *Server) readerOf(r *http.Request) *locale.Reader {
	b, ok := r.Context().Value(browserKey{}).(browserChoice)
	if !ok { // a request that did not pass switchLanguage (unit tests of one handler)
		b = s.browserChoiceOf(r)
	}
	zone := b.zone
	if u := currentUser(r.Context()); u != nil && u.TimeZone != "" {
		if loc, err := locale.LoadZone(u.TimeZone); err == nil { // a zone no longer offered: the browser's
			zone = loc
		}
	}
	return s.catalog.Reader(b.lang, zone, func(lang string) string { return switchURL(r, lang) })
}

// browserChoice is what the browser's lang cookie and Accept-Language
// give, worked out once per request (switchLanguage) rather than at every
// message.
type browserChoice struct {
	lang string         // locale.Catalog.Negotiate
	zone *time.Location // locale.Zone with no zone chosen
}

type browserKey struct{}

// browserChoiceOf works out r's browserChoice.
func (s *Server) browserChoiceOf(r *http.Request) browserChoice {
	cookie := ""
	if c, err := r.Cookie(langCookie); err == nil {
		cookie = c.Value
	}
	al := r.Header.Get("Accept-Language")
	return browserChoice{lang: s.catalog.Negotiate(cookie, al), zone: locale.Zone("", al)}
}

// t is the catalogue's text of message id for r's reader (args as for
// locale.Catalog.T): what handlers put in Title, Notice, FormError and
// FieldErrors.
func (s *Server) t(r *http.Request, id string, args ...any) string {
	return s.readerOf(r).T(id, args...)
}

// switchURL is r's page with ?lang=lang added: the language switch's link.
// For a POST (a form shown again with its errors) it is the path alone,
// the page as a GET.
func switchURL(r *http.Request, lang string) string {
	q := url.Values{}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		q = r.URL.Query()
	}
	q.Set("lang", lang)
	return pagePath(r) + "?" + q.Encode()
}

// pagePath is the path r asked for: r.URL.Path, except on a reset link,
// whose token hideResetToken took out of the URL (the switch must come
// back to the link, not to /reset/redacted).
func pagePath(r *http.Request) string {
	if token := resetToken(r); token != "" {
		return resetPathPrefix + token
	}
	return r.URL.Path
}

// switchLanguage answers the language switch: a GET or HEAD with ?lang=
// sets the lang cookie (when the value is a language of the catalogue)
// and redirects (303) to the same page without the parameter; any other
// request passes on with the browser's choice in its context (readerOf).
// The target
// is this site's path, checked with localPath (an address such as
// "//evil.example/?lang=ko" goes to "/"), so the switch redirects nowhere
// else. It changes no account state and needs no CSRF token: it is a
// preference of the browser, like the browser's own language setting.
// Only pages switch (switchable): not the JSON API, the health checks or
// the static files.
func (s *Server) switchLanguage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !switchable(r.URL.Path) {
			// The API, health checks and static files show no page: no
			// cookie, Accept-Language or query is read for them (an error
			// page, if any, works the choice out itself: readerOf).
			next.ServeHTTP(w, r)
			return
		}
		var q url.Values
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.URL.RawQuery, "lang") {
			q = r.URL.Query() // parsed only when a switch is possible
		}
		if !q.Has("lang") {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), browserKey{}, s.browserChoiceOf(r))))
			return
		}
		if lang := q.Get("lang"); s.catalog.Valid(lang) {
			http.SetCookie(w, &http.Cookie{
				Name: langCookie, Value: lang, Path: "/", MaxAge: int(langCookieAge / time.Second),
				Secure: s.secure, SameSite: http.SameSiteLaxMode,
			})
		}
		q.Del("lang")
		target := pagePath(r)
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
		if target = localPath(target); target == "" {
			target = "/"
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}

// switchable reports whether ?lang= on path switches the language: on
// the pages, not under /api/ (the API sets no cookie: a 303 with one
// would also break a CORS request), /static/, /healthz or /readyz.
func switchable(path string) bool {
	switch {
	case path == "/healthz", path == "/readyz", path == "/api", strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/static/"):
		return false
	}
	return true
}
