package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTimeZoneChoice: a zone of the list is stored with the account and
// the pages show times in it (and in the reader's language); a zone not in
// the list answers 422 with a message next to the select and changes
// nothing; "" goes back to the browser's language's zone.
func TestTimeZoneChoice(t *testing.T) {
	a := newTestApp(t)
	c := a.login("bob@example.com", false)
	bob := func() string {
		u, err := a.users.UserByEmail(t.Context(), "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return u.TimeZone
	}

	// The default: UTC (the test client sends no Accept-Language).
	res, body := c.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, `<option value="" selected>From my browser&#39;s language (UTC)</option>`, `<option value="Asia/Seoul">Asia/Seoul (UTC&#43;09:00)</option>`, `<option value="UTC">UTC</option>`,
		`<option value="Europe/Paris">Europe/Paris (UTC&#43;01:00)</option>`, `<option value="America/New_York">America/New_York (UTC-04:00)</option>`)
	// t0 is 09:00 UTC: the session signed in then.
	mustContain(t, body, `<dd id="session-created"><time datetime="2026-03-14T09:00:00Z">14 Mar 2026, 09:00 UTC</time></dd>`)

	res, body = c.post("/profile/time-zone", url.Values{"time_zone": {"Asia/Seoul"}})
	wantRedirect(t, res, body, "/profile")
	if got := bob(); got != "Asia/Seoul" {
		t.Fatalf("stored zone %q, want Asia/Seoul", got)
	}
	res, body = c.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "Your time zone has been saved.", `<option value="Asia/Seoul" selected>Asia/Seoul (UTC&#43;09:00)</option>`,
		`<dd id="session-created"><time datetime="2026-03-14T09:00:00Z">14 Mar 2026, 18:00 KST</time></dd>`)
	c.chooseLanguage("ko")
	res, body = c.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, `<dd id="session-created"><time datetime="2026-03-14T09:00:00Z">2026년 3월 14일 18:00</time></dd>`)

	for _, bad := range []string{"Mars/Olympus", "Local", "../../etc/passwd", "asia/seoul", strings.Repeat("A", 300)} {
		res, body = c.post("/profile/time-zone", url.Values{"time_zone": {bad}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		mustContain(t, body, `<p class="field-error" id="time_zone-error">목록에서 시간대를 골라 주세요.</p>`, `aria-invalid="true"`)
		if got := bob(); got != "Asia/Seoul" {
			t.Fatalf("after %q: stored zone %q, want Asia/Seoul unchanged", bad, got)
		}
	}

	// Back to automatic: a Korean browser's zone.
	res, body = c.post("/profile/time-zone", url.Values{"time_zone": {""}})
	wantRedirect(t, res, body, "/profile")
	if got := bob(); got != "" {
		t.Fatalf("stored zone %q, want none", got)
	}

	// Without a CSRF token nothing is saved.
	res, body = c.do("POST", "/profile/time-zone", url.Values{"time_zone": {"Europe/Paris"}})
	wantStatus(t, res, body, http.StatusForbidden)
	if got := bob(); got != "" {
		t.Fatalf("stored zone %q after a forged request", got)
	}
}

// TestTimeZoneFromAcceptLanguage: with no zone chosen, a Korean browser
// (ko-KR) sees times in Asia/Seoul.
func TestTimeZoneFromAcceptLanguage(t *testing.T) {
	a := newTestApp(t)
	c := a.login("bob@example.com", false)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.ts.URL+"/profile", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Language", "ko-KR,ko;q=0.9")
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	mustContain(t, b.String(), `<html lang="ko">`, `2026년 3월 14일 18:00</time>`, `브라우저 언어에 따름 (Asia/Seoul)`)
}
