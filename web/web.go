// Package web holds Latch's HTML templates and static assets, embedded in
// the binary so a deployment is one file.
//
// The server parses each page as its own template set, built from
// base.html, partials/*.html and pages/NAME.html, and executes the
// template named "base". Every page defines "title" and "main", which the
// base layout calls. The templates call the functions of Funcs, so a
// template set is made with template.New(…).Funcs(web.Funcs(&reader)),
// reader being whom it renders for (a Locale: language and time zone).
// Every word on the pages is a message of the catalogues in locales/
// (active.en.toml, active.ko.toml), called by its ID ({{t "login.title"}}).
// Static files are served under /static/.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed templates static locales
var files embed.FS

// Templates is the template tree: base.html at its root, partials/*.html
// and pages/*.html below it. Paths are slash-separated, as fs.FS requires.
var Templates = mustSub(files, "templates")

// Static holds the files served under /static/ (style.css, favicon.svg),
// rooted so that "style.css" names /static/style.css.
var Static = mustSub(files, "static")

// Locales holds the message catalogues, one TOML file per language
// (active.en.toml, active.ko.toml), read by internal/locale.
var Locales = mustSub(files, "locales")

// mustSub returns the sub-tree of fsys rooted at dir. It panics on error,
// which can only happen if dir is not a valid path: a programming error
// caught by the first test run, not a run-time condition.
func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("web: " + err.Error())
	}
	return sub
}

// Locale is whom a page is rendered for: the reader's language and time
// zone (internal/locale implements it).
type Locale interface {
	// Lang is the BCP 47 tag of the page's language, "en" or "ko": the
	// value of <html lang>.
	Lang() string
	// T returns the catalogue's text for message id, with args as pairs
	// of a template field name and its value ("Count", 3); a message
	// with a Count is chosen by its plural form.
	T(id string, args ...any) string
	// Time is t as text for people, in the reader's language and time zone:
	// "1 Dec 2026, 15:09 KST", "2026년 12월 1일 15:09".
	Time(t time.Time) string
	// SwitchURL is the address that shows the current page in lang.
	SwitchURL(lang string) string
	// Langs are the languages a reader can switch to, "en" and "ko".
	Langs() []string
	// Device is a device label ("Firefox 128 on Linux", "Unknown
	// browser") in the reader's language.
	Device(label string) string
}

// Funcs returns the functions the templates call, for the reader *cur
// (read at each call, so one parsed template set serves one rendering at
// a time, for whoever *cur is then):
//
//	t id [name value]...  the catalogue's text of message id (Locale.T)
//	lang                  the page's language tag, for <html lang>
//	langs                 the languages of the switch (Locale.Langs)
//	langURL tag           this page in language tag (Locale.SwitchURL)
//	device label          a device label in the reader's language (Locale.Device)
//	tHTML id [name value]...  t for a message with HTML in it: values of
//	                      type template.HTML (a timeTag) are placed as they
//	                      are, the rest of the text is escaped (messageHTML);
//	                      for HTML text, not attributes
//	timeTag t             the <time> element of t: machine-readable RFC
//	                      3339 in UTC in datetime, Locale.Time as text.
//	timeTagText t text    the same with text of the caller's (the
//	                      new-device notice's clock or date and time)
//	firstError errs field...  the first field with an error (focus.go).
//
// timeTag is a function rather than a template of .UTC.Format calls
// because html/template reaches each method through reflection: on a
// signed-in page the time elements were a visible share of the rendering
// cost. The text is escaped; the datetime value holds only digits and
// punctuation.
func Funcs(cur *Locale) template.FuncMap {
	return template.FuncMap{
		"t":           func(id string, args ...any) string { return (*cur).T(id, args...) },
		"lang":        func() string { return (*cur).Lang() },
		"langs":       func() []string { return (*cur).Langs() },
		"langURL":     func(tag string) string { return (*cur).SwitchURL(tag) },
		"device":      func(label string) string { return (*cur).Device(label) },
		"tHTML":       func(id string, args ...any) template.HTML { return messageHTML(*cur, id, args...) },
		"timeTag":     func(t time.Time) template.HTML { return timeTag(t, (*cur).Time(t)) },
		"timeTagText": timeTag,
		"firstError":  firstError,
	}
}

// messageHTML is l.T(id, args...) escaped for HTML text, except that each
// value in args of type template.HTML stands in it unescaped where the
// message places its field: so a message orders a <time> element among its
// words as its language needs ("{{.When}}에 {{.Device}}에서 …"). Each HTML
// value goes through T as a marker of private-use characters, which the
// escaping leaves alone and which are taken out of the other values first,
// so no value can stand in for a marker.
func messageHTML(l Locale, id string, args ...any) template.HTML {
	args = slices.Clone(args)
	var parts []string
	for i := 1; i < len(args); i += 2 {
		switch v := args[i].(type) {
		case template.HTML:
			args[i] = htmlMarker(len(parts))
			parts = append(parts, string(v))
		case string:
			args[i] = markerChars.Replace(v)
		}
	}
	s := template.HTMLEscapeString(l.T(id, args...))
	for i, p := range parts {
		s = strings.Replace(s, htmlMarker(i), p, 1)
	}
	return template.HTML(s)
}

// htmlMarker is the stand-in of messageHTML's i-th HTML value.
func htmlMarker(i int) string { return "\ue000" + strconv.Itoa(i) + "\ue001" }

// markerChars replaces the characters of htmlMarker in a text value.
var markerChars = strings.NewReplacer("\ue000", "\ufffd", "\ue001", "\ufffd")

func timeTag(t time.Time, text string) template.HTML {
	b := make([]byte, 0, 80)
	b = append(b, `<time datetime="`...)
	b = t.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `">`...)
	b = append(b, template.HTMLEscapeString(text)...)
	b = append(b, "</time>"...)
	return template.HTML(b)
}
