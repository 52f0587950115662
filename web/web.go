// Package web holds Latch's HTML templates and static assets, embedded in
// the binary so a deployment is one file.
//
// The server parses each page as its own template set, built from
// base.html, partials/*.html and pages/NAME.html, and executes the
// template named "base". Every page defines "title" and "main", which the
// base layout calls. The templates call the functions of Funcs, so a
// template set is made with template.New(…).Funcs(web.Funcs()). Static
// files are served under /static/.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"time"
)

//go:embed templates static
var files embed.FS

// Templates is the template tree: base.html at its root, partials/*.html
// and pages/*.html below it. Paths are slash-separated, as fs.FS requires.
var Templates = mustSub(files, "templates")

// Static holds the files served under /static/ (style.css, favicon.svg),
// rooted so that "style.css" names /static/style.css.
var Static = mustSub(files, "static")

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

// Funcs returns the functions the templates call:
//
//	timeTag t   the <time> element of t in UTC: machine-readable (RFC 3339)
//	            in datetime, "2 Jan 2006, 15:04 UTC" as text.
//	firstError errs field...  the first field with an error (focus.go).
//
// timeTag is a function rather than a template of .UTC.Format calls
// because html/template reaches each method through reflection: on a
// signed-in page the time elements were a visible share of the rendering
// cost. Its output holds only digits, letters and punctuation of the two
// layouts, never input, so it is safe as template.HTML.
func Funcs() template.FuncMap {
	return template.FuncMap{"timeTag": timeTag, "firstError": firstError}
}

func timeTag(t time.Time) template.HTML {
	u := t.UTC()
	b := make([]byte, 0, 80)
	b = append(b, `<time datetime="`...)
	b = u.AppendFormat(b, time.RFC3339)
	b = append(b, `">`...)
	b = u.AppendFormat(b, "2 Jan 2006, 15:04 MST")
	b = append(b, "</time>"...)
	return template.HTML(b)
}
