package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserTestTimeout bounds a whole browser test, Chromium's start included.
const browserTestTimeout = 60 * time.Second

// TestBrowserRegisterLoginLogoutBack drives a real headless Chromium through
// the UI: it registers, logs in, checks that the session cookie is HttpOnly,
// Secure and SameSite=Lax, logs out, and then presses Back, which must not
// show the profile again (dynamic pages are Cache-Control: no-store). No page
// may report a Content Security Policy violation on the console.
func TestBrowserRegisterLoginLogoutBack(t *testing.T) {
	ta := startApp(t, backends[0])
	ctx, events := startChromium(t)

	name := "Ada Browser"
	email := fmt.Sprintf("ada-browser-%d@example.com", time.Now().UnixNano())
	pw := "correct horse battery staple"

	// 1. Register through the form.
	tabDo(t, ctx, "open /register", chromedp.Navigate(ta.srv.URL+"/register"))
	tabDo(t, ctx, "fill the register form",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), pw),
	)
	submit(t, ctx, `form[action="/register"] button[type="submit"]`, "/login")
	if flash := tabRun(t, ctx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "account has been created") {
		t.Errorf("flash after registering = %q", flash)
	}

	// 2. Log in: the form opens with the new account's email filled in.
	if filled := tabRun(t, ctx, chromedp.Evaluate[string](`document.getElementById("email").value`)); filled != email {
		t.Errorf("email field after registering = %q, want %q", filled, email)
	}
	tabDo(t, ctx, "fill the login form", chromedp.SendKeys(chromedp.ID("password"), pw))
	submit(t, ctx, `form[action="/login"] button[type="submit"]`, "/profile")
	if h1 := tabRun(t, ctx, chromedp.Text(chromedp.CSS("main h1"))); h1 != name {
		t.Errorf("profile heading = %q, want %q", h1, name)
	}
	tabDo(t, ctx, "find the session details", chromedp.WaitVisible(chromedp.ID("session-created")))

	// 3. The session cookie is in the browser but out of reach of scripts.
	jsCookies := tabRun(t, ctx, chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(jsCookies, "latch_session") {
		t.Errorf("document.cookie exposes the session cookie: %q", jsCookies)
	}
	switch session := browserSessionCookie(t, ctx, ta.srv.URL); {
	case session == nil:
		t.Errorf("the browser holds no __Host-latch_session cookie")
	case !session.HTTPOnly || !session.Secure || session.SameSite != network.CookieSameSiteLax || session.Path != "/":
		t.Errorf("session cookie: HttpOnly=%v Secure=%v SameSite=%q Path=%q, want true, true, Lax, /",
			session.HTTPOnly, session.Secure, session.SameSite, session.Path)
	}

	// 4. Log out with the header's button.
	if label := tabRun(t, ctx, chromedp.Text(chromedp.CSS(`form[action="/logout"] button`))); label != "Log out" {
		t.Errorf("logout button label = %q", label)
	}
	submit(t, ctx, `form[action="/logout"] button[type="submit"]`, "/login")
	if flash := tabRun(t, ctx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "You have been logged out") {
		t.Errorf("flash after logout = %q", flash)
	}
	if browserSessionCookie(t, ctx, ta.srv.URL) != nil {
		t.Error("the browser still holds the session cookie after logout")
	}

	// 5. Back must not bring the profile back. Mark this document so that
	// the checks below cannot mistake it for the page that Back shows.
	tabDo(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__latchBeforeBack = true`))
	// NavigateBack waits for a load event, which a page restored from the
	// back/forward cache does not fire: stop waiting on such a restore.
	backCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	events.onCacheRestore(cancel)
	err := chromedp.Do(backCtx, chromedp.NavigateBack())
	events.onCacheRestore(nil)
	cancel()
	if err != nil && (ctx.Err() != nil || backCtx.Err() == nil) {
		t.Fatalf("navigate back: %v", err)
	}
	st := settledPage(t, ctx, name)
	t.Logf("after Back: %s, heading %q, Navigation Timing type %q; %s", st.Path, st.Heading, st.NavType, events.summary())
	if st.Profile || st.Heading == name || st.ShowsName {
		t.Errorf("Back after logout shows the profile: %s, heading %q, Navigation Timing type %q; %s",
			st.Path, st.Heading, st.NavType, events.summary())
	}
	if st.Path != "/login" || !st.LoginForm {
		t.Errorf("Back after logout: path %s, login form %v; want /login with the form", st.Path, st.LoginForm)
	}

	for _, m := range events.consoleErrors() {
		if strings.Contains(strings.ToLower(m), "content security policy") {
			t.Errorf("CSP violation on the console: %s", m)
		} else {
			t.Logf("console: %s", m)
		}
	}
}

// startChromium starts a headless Chromium for t and returns the context of
// its tab, which ends after browserTestTimeout, and the recorder of the
// tab's events. Without Chromium the test is skipped, or fails under CI.
func startChromium(t *testing.T) (context.Context, *pageEvents) {
	t.Helper()
	return startChromiumFor(t, browserTestTimeout)
}

// startChromiumFor is startChromium with the tab's context ending after
// timeout instead.
func startChromiumFor(t *testing.T, timeout time.Duration) (context.Context, *pageEvents) {
	t.Helper()
	path := os.Getenv("LATCH_TEST_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium is required under CI: %v (set LATCH_TEST_CHROMIUM)", err)
		}
		t.Skipf("no Chromium: %v (set LATCH_TEST_CHROMIUM)", err)
	}

	out := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		// The test server's certificate is self-signed.
		chromedp.IgnoreCertErrors,
		chromedp.CombinedOutput(out),
	)
	events := &pageEvents{}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(events.record))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for Chromium to exit, before t.TempDir is removed
		cancelTimeout()
		if t.Failed() {
			t.Logf("Chromium output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("start Chromium %s: %v\n%s", path, err, out.String())
	}
	return tabCtx, events
}

// tabDo runs actions in the tab and fails the test on an error.
func tabDo(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// tabRun runs one action in the tab and returns its value, failing the test on
// an error.
func tabRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// submit clicks the submit button that sel finds, waits for the page that
// the form leads to, after redirects, and checks that it is wantPath with
// status 200.
func submit(t *testing.T, ctx context.Context, sel, wantPath string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	u, err := url.Parse(resp.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || u.Path != wantPath {
		t.Fatalf("click %s: landed on %s with status %d, want %s with 200", sel, resp.URL, resp.Status, wantPath)
	}
}

// browserSessionCookie returns the session cookie that the browser would
// send to serverURL, or nil.
func browserSessionCookie(t *testing.T, ctx context.Context, serverURL string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{serverURL + "/"}})
	if err != nil {
		t.Fatalf("Network.getCookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "__Host-latch_session" {
			return c
		}
	}
	return nil
}

// pageState is what the tab shows, read by script.
type pageState struct {
	Fresh     bool   `json:"fresh"` // not the document marked before Back
	Ready     bool   `json:"ready"` // document.readyState is "complete"
	Path      string `json:"path"`
	NavType   string `json:"navType"` // of the Navigation Timing entry
	Heading   string `json:"heading"`
	LoginForm bool   `json:"loginForm"`
	Profile   bool   `json:"profile"`   // the session details are there
	ShowsName bool   `json:"showsName"` // the user's name is on the page
}

// settledPage polls the tab until it shows a fully loaded document other
// than the one marked before Back, either the login form or the profile,
// and returns what it shows. It fails the test after 5 seconds.
func settledPage(t *testing.T, ctx context.Context, name string) pageState {
	t.Helper()
	expr := fmt.Sprintf(`({
		fresh: !window.__latchBeforeBack,
		ready: document.readyState === "complete",
		path: location.pathname,
		navType: (performance.getEntriesByType("navigation")[0] || {}).type || "",
		heading: ((document.querySelector("main h1") || {}).textContent || "").trim(),
		loginForm: !!document.querySelector('form[action="/login"]'),
		profile: !!document.getElementById("session-created"),
		showsName: !!document.body && document.body.innerText.includes(%q),
	})`, name)
	// A guard against a page that never settles, not a speed bound: on a
	// loaded 2-core machine Chromium can take seconds (issue 7).
	deadline := time.Now().Add(60 * time.Second)
	var (
		st      pageState
		lastErr error
	)
	for {
		// During a navigation the evaluation can fail (no context yet).
		st, lastErr = chromedp.Run(ctx, chromedp.Evaluate[pageState](expr))
		if lastErr == nil && st.Fresh && st.Ready && (st.LoginForm || st.Profile) {
			return st
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("page did not settle after Back within a minute: last state %+v, last error %v", st, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pageEvents records, from the tab's event loop, the console errors and the
// back/forward cache events.
type pageEvents struct {
	mu        sync.Mutex
	errors    []string
	bfcache   []string // why a history navigation did not use the cache
	navigated []string // types of main-frame navigations
	restored  func()   // called when the main frame is restored from the cache
}

// onCacheRestore sets (or, with nil, clears) the func to call when the main
// frame is restored from the back/forward cache.
func (e *pageEvents) onCacheRestore(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.restored = f
}

// record is a chromedp listener: it must return fast and send no command.
func (e *pageEvents) record(ev any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev := ev.(type) {
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			e.errors = append(e.errors, fmt.Sprintf("[%s] %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *cdpruntime.EventExceptionThrown:
		e.errors = append(e.errors, "exception: "+ev.ExceptionDetails.Text)
	case *cdpruntime.EventConsoleAPICalled:
		if ev.Type == cdpruntime.ConsoleAPICalledTypeError {
			e.errors = append(e.errors, "console.error called")
		}
	case *cdppage.EventBackForwardCacheNotUsed:
		for _, x := range ev.NotRestoredExplanations {
			e.bfcache = append(e.bfcache, fmt.Sprintf("%s/%s", x.Type, x.Reason))
		}
	case *cdppage.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			e.navigated = append(e.navigated, string(ev.Type))
			if ev.Type == cdppage.NavigationTypeBackForwardCacheRestore && e.restored != nil {
				e.restored()
			}
		}
	}
}

func (e *pageEvents) consoleErrors() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.errors...)
}

// summary tells how the last main-frame navigation went, for the log.
func (e *pageEvents) summary() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	last := ""
	if n := len(e.navigated); n > 0 {
		last = e.navigated[n-1]
	}
	return fmt.Sprintf("CDP navigation type %s, back/forward cache not used because %v", last, e.bfcache)
}
