// Package web holds Latch's HTML templates and static assets, embedded in
// the binary so a deployment is one file.
//
// The server parses each page as its own template set, built from
// base.html, partials/*.html and pages/NAME.html, and executes the
// template named "base". Every page defines "title" and "main", which the
// base layout calls. Static files are served under /static/.
package web

import (
	"embed"
	"io/fs"
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
