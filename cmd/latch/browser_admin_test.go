package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAdminKillsSession drives two isolated Chromium browser
// contexts (separate cookie stores, like two people's browsers): a user
// logs in in one; an administrator logs in in the other, opens the session
// list, clicks Kill on the user's row and, being asked for the password
// (the login was more than 5 minutes ago), confirms it. The user's next
// navigation lands on the login page.
func TestBrowserAdminKillsSession(t *testing.T) {
	ta := startApp(t, backends[0])
	userCtx, _ := startChromium(t)
	// A new BrowserContext is an incognito-like profile in the same
	// Chromium: no cookie is shared with userCtx.
	adminCtx, cancelAdmin := chromedp.NewContext(userCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelAdmin) // runs before startChromium's clean-up closes the browser
	tabDo(t, adminCtx, "open the administrator's browser context")

	userEmail, userPW := ta.newUser("Victim")
	userID := mustUser(t, ta.app.db, userEmail).ID
	adminUser, adminPW := adminAccount(t, ta, "Admin")

	browserLogin(t, userCtx, ta.srv.URL, userEmail, userPW)
	browserLogin(t, adminCtx, ta.srv.URL, adminUser.Email, adminPW)
	userCookie, adminCookie := browserSessionCookie(t, userCtx, ta.srv.URL), browserSessionCookie(t, adminCtx, ta.srv.URL)
	if userCookie == nil || adminCookie == nil || userCookie.Value == adminCookie.Value {
		t.Fatalf("session cookies: user %v, administrator %v; want two different ones", userCookie, adminCookie)
	}
	handle := onlySession(t, ta, userID).Handle
	ta.clock.Advance(6 * time.Minute) // past the re-authentication window, within the idle timeout

	tabDo(t, adminCtx, "open /admin/sessions", chromedp.Navigate(ta.srv.URL+"/admin/sessions"))
	// The Kill button of the row that names the user.
	action := tabRun(t, adminCtx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const row = [...document.querySelectorAll("tbody tr")].find(tr =>
			[...tr.querySelectorAll("a")].some(a => a.textContent.trim() === %q));
		const form = row && row.querySelector('form[action$="/kill"]');
		return form ? form.getAttribute("action") : "";
	})()`, userEmail)))
	if want := "/admin/sessions/" + handle + "/kill"; action != want {
		t.Fatalf("Kill form of %s's row posts to %q, want %q", userEmail, action, want)
	}
	killButton := fmt.Sprintf(`form[action=%q] button[type="submit"]`, action)
	submit(t, adminCtx, killButton, action) // the password prompt, at the action's URL
	if h1 := tabRun(t, adminCtx, chromedp.Text(chromedp.CSS("main h1"))); h1 != "Confirm your password" {
		t.Fatalf("after Kill: heading %q, want Confirm your password", h1)
	}
	tabDo(t, adminCtx, "type the password", chromedp.SendKeys(chromedp.ID("reauth_password"), adminPW))
	submit(t, adminCtx, killButton, "/admin/sessions")
	if flash := tabRun(t, adminCtx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "The session has been ended") {
		t.Errorf("flash after Kill = %q", flash)
	}
	listed := tabRun(t, adminCtx, chromedp.Evaluate[bool](fmt.Sprintf(`document.body.innerText.includes(%q)`, userEmail)))
	if listed {
		t.Error("the killed session is still listed")
	}

	// The user's next navigation.
	resp, err := chromedp.Run(userCtx, chromedp.NavigateResponse(ta.srv.URL+"/profile"))
	if err != nil {
		t.Fatalf("navigate to /profile: %v", err)
	}
	u, err := url.Parse(resp.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/login" || resp.Status != 200 {
		t.Fatalf("the user's next navigation landed on %s (status %d), want the login page", resp.URL, resp.Status)
	}
	tabDo(t, userCtx, "find the login form", chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)))
	if browserSessionCookie(t, userCtx, ta.srv.URL) != nil {
		t.Error("the user's browser still holds the killed session's cookie")
	}
	if recs := userSessions(t, ta, userID); len(recs) != 0 {
		t.Errorf("the user still has sessions: %+v", recs)
	}
}

// browserLogin logs in through the form in the tab ctx and expects the
// profile.
func browserLogin(t *testing.T, ctx context.Context, base, email, pw string) {
	t.Helper()
	tabDo(t, ctx, "open /login", chromedp.Navigate(base+"/login"))
	tabDo(t, ctx, "fill the login form",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), pw),
	)
	submit(t, ctx, `form[action="/login"] button[type="submit"]`, "/profile")
}
