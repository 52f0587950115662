package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The keyboard-only walk: key events only, focus visible.

// focusInfo describes the focused element after a key press.
type focusInfo struct {
	Match   bool   `json:"match"`   // the element the test is tabbing to
	Visible bool   `json:"visible"` // :focus-visible matches and an outline or box-shadow shows
	What    string `json:"what"`
}

// tabTo presses Tab until the focused element matches the CSS selector
// sel (at most 200 times) and checks that its focus is visible: it matches
// :focus-visible and has an outline or a box-shadow.
func tabTo(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	expr := fmt.Sprintf(`(() => {
		const el = document.activeElement;
		if (!el || el === document.body) return {match: false, visible: false, what: "body"};
		const s = getComputedStyle(el);
		const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
		return {match: el.matches(%q), visible: el.matches(":focus-visible") && (outline || s.boxShadow !== "none"),
			what: el.tagName + " " + (el.getAttribute("href") || el.textContent.trim().slice(0, 40))};
	})()`, sel)
	for range 200 {
		tabDo(t, ctx, "press Tab", chromedp.KeyEvent(kb.Tab))
		f := tabRun(t, ctx, chromedp.Evaluate[focusInfo](expr))
		if f.Match {
			if !f.Visible {
				t.Errorf("focus on %s (%s) is not visible", sel, f.What)
			}
			return
		}
	}
	t.Fatalf("200 presses of Tab did not reach %s", sel)
}

// pressEnterAndWait presses Enter on the focused element and waits (at
// most 30 seconds) until the tab shows a loaded page at path wantPath.
func pressEnterAndWait(t *testing.T, ctx context.Context, wantPath string) {
	t.Helper()
	tabDo(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__latchBeforeEnter = true`))
	tabDo(t, ctx, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitForPage(t, ctx, wantPath)
}

// waitForPage polls the tab until it shows a new, loaded document (not the
// one marked before a key press) at path wantPath, for at most 30 seconds.
func waitForPage(t *testing.T, ctx context.Context, wantPath string) {
	t.Helper()
	type state struct {
		Fresh bool   `json:"fresh"`
		Ready bool   `json:"ready"`
		Path  string `json:"path"`
	}
	deadline := time.Now().Add(30 * time.Second)
	var st state
	for {
		st, _ = chromedp.Run(ctx, chromedp.Evaluate[state](
			`({fresh: !window.__latchBeforeEnter, ready: document.readyState === "complete", path: location.pathname})`))
		if st.Fresh && st.Ready {
			if st.Path != wantPath {
				t.Fatalf("after Enter: on %s, want %s", st.Path, wantPath)
			}
			// Let autofocus take effect before the next key.
			tabRun(t, ctx, chromedp.Evaluate[bool](afterRendering(`true`), chromedp.EvalAwaitPromise))
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("no page at %s within 30 s: last state %+v", wantPath, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserKeyboardOnly does the keyboard walk with key events
// only, no mouse: an administrator signs in, opens the devices page, signs
// out another of their sessions (confirming the password when asked),
// kills another account's session on the admin sessions page, and logs
// out. Every control reached with Tab shows a visible focus.
func TestBrowserKeyboardOnly(t *testing.T) {
	f := newUIFixture(t)
	ctx, base := f.admin, f.ta.srv.URL
	setWidth(t, ctx, 1280)
	loginWithAgent(t, f.ta, f.adminEmail, f.adminPW, uiUserAgents[2]) // the administrator's other device

	// Sign in: the email field has the focus when the page opens.
	tabDo(t, ctx, "open /login", chromedp.Navigate(base+"/login"))
	tabRun(t, ctx, chromedp.Evaluate[bool](afterRendering(`true`), chromedp.EvalAwaitPromise))
	if id := tabRun(t, ctx, chromedp.Evaluate[string](`document.activeElement.id`)); id != "email" {
		t.Fatalf("login page opens with the focus on %q, want email", id)
	}
	tabDo(t, ctx, "type the email", chromedp.KeyEvent(f.adminEmail))
	tabTo(t, ctx, "#password")
	tabDo(t, ctx, "type the password", chromedp.KeyEvent(f.adminPW))
	pressEnterAndWait(t, ctx, "/profile")

	// Open the devices page and sign out the other device; past the
	// re-authentication window, the password is asked for.
	tabTo(t, ctx, `a[href="/sessions"]`)
	pressEnterAndWait(t, ctx, "/sessions")
	f.ta.clock.Advance(6 * time.Minute)
	tabTo(t, ctx, `form[action$="/revoke"] button`)
	action := tabRun(t, ctx, chromedp.Evaluate[string](`document.activeElement.form.getAttribute("action")`))
	pressEnterAndWait(t, ctx, action)
	if id := tabRun(t, ctx, chromedp.Evaluate[string](`document.activeElement.id`)); id != "reauth_password" {
		t.Fatalf("password prompt opens with the focus on %q, want reauth_password", id)
	}
	tabDo(t, ctx, "type the password", chromedp.KeyEvent(f.adminPW))
	pressEnterAndWait(t, ctx, "/sessions")
	if flash := tabRun(t, ctx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "signed out") {
		t.Errorf("flash after signing out a device = %q", flash)
	}
	if n := len(userSessions(t, f.ta, f.adminID)); n != 1 {
		t.Errorf("the administrator has %d sessions after signing out the other device, want 1", n)
	}

	// Admin: the sessions list, Kill on Grace's session.
	tabTo(t, ctx, `header a[href="/admin"]`)
	pressEnterAndWait(t, ctx, "/admin")
	tabTo(t, ctx, `.admin-nav a[href="/admin/sessions"]`)
	pressEnterAndWait(t, ctx, "/admin/sessions")
	before := len(userSessions(t, f.ta, f.userID))
	tabTo(t, ctx, killButtonOf(f.userEmail))
	pressEnterAndWait(t, ctx, "/admin/sessions")
	if flash := tabRun(t, ctx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "The session has been ended") {
		t.Errorf("flash after Kill = %q", flash)
	}
	if after := len(userSessions(t, f.ta, f.userID)); after != before-1 {
		t.Errorf("Grace has %d sessions after Kill, want %d", after, before-1)
	}

	// Log out.
	tabTo(t, ctx, `form[action="/logout"] button`)
	pressEnterAndWait(t, ctx, "/login")
	if browserSessionCookie(t, ctx, base) != nil {
		t.Error("the browser still holds the session cookie after logging out")
	}
}

// killButtonOf is a selector of the Kill buttons of email's sessions: their
// hidden label names the account.
func killButtonOf(email string) string {
	return fmt.Sprintf(`tr:has(a[title=%q]) form[action$="/kill"] button`, email)
}
