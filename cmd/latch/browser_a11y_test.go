package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// axe-core on every page (signed out, signed in, as an administrator; light
// and dark scheme; desktop and phone) and the screenshots of
// docs/screenshots/ (written only when LATCH_SCREENSHOTS names a directory:
// `make screenshots`).

// axeSource returns axe.min.js from LATCH_TEST_AXE (scripts/test-env.sh
// installs axe-core with npm and sets it). Without it the test is skipped,
// or fails under CI.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("LATCH_TEST_AXE")
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("axe-core is required under CI: set LATCH_TEST_AXE to axe.min.js (scripts/test-env.sh does)")
		}
		t.Skip("no axe-core: set LATCH_TEST_AXE to axe.min.js (scripts/test-env.sh installs it)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("LATCH_TEST_AXE: %v", err)
	}
	return string(b)
}

// axeViolation is one rule that axe found broken on a page.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"` // minor, moderate, serious, critical
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// runAxe injects axe into the page in ctx, once per document, and returns
// its violations of the WCAG 2.x A/AA rules and best practices.
func runAxe(t *testing.T, ctx context.Context, src string) []axeViolation {
	t.Helper()
	loaded := tabRun(t, ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if !loaded {
		tabDo(t, ctx, "inject axe-core", chromedp.Evaluate[chromedp.Void](src))
	}
	raw := tabRun(t, ctx, chromedp.Evaluate[[]byte](`axe.run(document, {
		resultTypes: ["violations"],
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
	}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	var vs []axeViolation
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatalf("axe results: %v", err)
	}
	return vs
}

// uiViews are the ways each page is looked at by the accessibility test:
// desktop in both colour schemes, and a phone.
var uiViews = []struct {
	width  int64
	scheme string
}{{1280, "light"}, {1280, "dark"}, {390, "light"}}

// TestBrowserAccessibility runs axe-core on every page, signed out, signed
// in and as an administrator, in each language of uiLanguages, at 1280 px
// in the light and the dark colour scheme (axe checks text contrast,
// 4.5:1) and at 390 px: no
// serious or critical violation is allowed. The counts by impact of every
// page are logged. With LATCH_SCREENSHOTS set to a directory (`make
// screenshots` passes docs/screenshots), every page is also photographed
// there at 1280 and 390 px in the light scheme, as
// PAGE-LANGUAGE-WIDTH.png. Every page links the SVG favicon, which is served.
func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	f := newUIFixture(t)
	base := f.ta.srv.URL
	browserLogin(t, f.user, base, f.userEmail, f.userPW)
	browserLogin(t, f.admin, base, f.adminEmail, f.adminPW)
	shots := os.Getenv("LATCH_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// axe must find what it is there to find: an image without a text
	// alternative on a page of ours is a critical violation.
	tabDo(t, f.anon, "open /login", chromedp.Navigate(base+"/login"))
	tabDo(t, f.anon, "add an image without alt", chromedp.Evaluate[chromedp.Void](
		`document.querySelector("main").append(Object.assign(document.createElement("img"), {src: "/static/favicon.svg"}))`))
	if vs := runAxe(t, f.anon, axe); len(vs) == 0 || vs[0].ID != "image-alt" || vs[0].Impact != "critical" {
		t.Fatalf("axe on a page with an image without alt: %+v, want one critical image-alt violation", vs)
	}

	anon, user, admin := f.pages()
	groups := []struct {
		who   string
		ctx   context.Context
		pages []uiPage
	}{{"signed out", f.anon, anon}, {"signed in", f.user, user}, {"admin", f.admin, admin}}
	var summary []string
	for _, lang := range uiLanguages {
		for _, g := range groups {
			for _, p := range g.pages {
				for _, view := range uiViews {
					scheme := view.scheme
					setWidth(t, g.ctx, view.width)
					setScheme(t, g.ctx, scheme)
					visit(t, g.ctx, base, p, lang)
					// The emulated scheme is the one the style sheet applies.
					bg := tabRun(t, g.ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
					if want := map[string]string{"light": "rgb(245, 246, 248)", "dark": "rgb(15, 19, 24)"}[scheme]; bg != want {
						t.Fatalf("%s in the %s scheme: body background %s, want %s", p.name, scheme, bg, want)
					}
					if icon := tabRun(t, g.ctx, chromedp.Evaluate[string](`(l => l ? l.getAttribute("href") + " " + l.type : "none")(document.querySelector('link[rel="icon"]'))`)); icon != "/static/favicon.svg image/svg+xml" {
						t.Errorf("%s: icon link %q, want /static/favicon.svg image/svg+xml", p.name, icon)
					}
					vs := runAxe(t, g.ctx, axe)
					counts := map[string]int{}
					for _, v := range vs {
						counts[v.Impact] += len(v.Nodes)
						if v.Impact == "serious" || v.Impact == "critical" {
							var where []string
							for _, n := range v.Nodes {
								where = append(where, fmt.Sprint(n.Target)+": "+n.Summary)
							}
							t.Errorf("%s, %s, %s, %s, %d px: %s violation %s (%s) at\n  %s",
								lang, g.who, p.name, scheme, view.width, v.Impact, v.ID, v.Help, strings.Join(where, "\n  "))
						}
					}
					summary = append(summary, fmt.Sprintf("%-3s %-10s %-20s %-5s %4d px  critical %d, serious %d, moderate %d, minor %d",
						lang, g.who, p.name, scheme, view.width, counts["critical"], counts["serious"], counts["moderate"], counts["minor"]))
					if shots != "" && scheme == "light" && view.width == 1280 {
						for _, w := range []int64{1280, 390} {
							saveScreenshot(t, g.ctx, filepath.Join(shots, fmt.Sprintf("%s-%s-%d.png", p.name, lang, w)), w)
						}
					}
				}
			}
		}
	}
	t.Logf("axe violations (nodes) by page:\n%s", strings.Join(summary, "\n"))
	if icon := f.ta.newBrowser().get("/static/favicon.svg"); icon.status != http.StatusOK || icon.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("GET /static/favicon.svg: %d %q, want 200 image/svg+xml", icon.status, icon.header.Get("Content-Type"))
	}
}

// screenshotMaxHeight bounds a screenshot's height in CSS pixels, so that
// a long page (the audit log on a phone) stays a modest file.
const screenshotMaxHeight = 1600

// saveScreenshot photographs the page in ctx at width px (scale 1), from
// the top, at most screenshotMaxHeight px of it, into path as PNG.
func saveScreenshot(t *testing.T, ctx context.Context, path string, width int64) {
	t.Helper()
	tabDo(t, ctx, "set the viewport", chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
	h := tabRun(t, ctx, chromedp.Evaluate[float64](afterRendering(`document.documentElement.scrollHeight`), chromedp.EvalAwaitPromise))
	shot, err := chromedp.Call(ctx, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{
		Format:                cdppage.CaptureScreenshotFormatPng,
		CaptureBeyondViewport: ptrTo(true),
		FromSurface:           ptrTo(true),
		Clip:                  &cdppage.Viewport{X: 0, Y: 0, Width: float64(width), Height: min(h, screenshotMaxHeight), Scale: 1},
	})
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.WriteFile(path, shot.Data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func ptrTo[T any](v T) *T { return &v }
