package server

import (
	"net/http"
	"net/url"
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
	cookie := ""
	if c, err := r.Cookie(langCookie); err == nil {
		cookie = c.Value
	}
	al := r.Header.Get("Accept-Language")
	chosen := ""
	if u := currentUser(r.Context()); u != nil {
		chosen = u.TimeZone
	}
	return s.catalog.Reader(s.catalog.Negotiate(cookie, al), locale.Zone(chosen, al),
		func(lang string) string { return switchURL(r, lang) })
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
	return r.URL.Path + "?" + q.Encode()
}

// switchLanguage answers the language switch: a GET or HEAD with ?lang=
// sets the lang cookie (when the value is a language of the catalogue)
// and redirects (303) to the same page without the parameter. The target
// is this site's path, checked with localPath (an address such as
// "//evil.example/?lang=ko" goes to "/"), so the switch redirects nowhere
// else. It changes no account state and needs no CSRF token: it is a
// preference of the browser, like the browser's own language setting.
func (s *Server) switchLanguage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !q.Has("lang") {
			next.ServeHTTP(w, r)
			return
		}
		if lang := q.Get("lang"); s.catalog.Valid(lang) {
			http.SetCookie(w, &http.Cookie{
				Name: langCookie, Value: lang, Path: "/", MaxAge: int(langCookieAge / time.Second),
				Secure: s.secure, SameSite: http.SameSiteLaxMode,
			})
		}
		q.Del("lang")
		target := r.URL.Path
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
		if target = localPath(target); target == "" {
			target = "/"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}
