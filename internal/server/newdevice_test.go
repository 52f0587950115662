package server

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/user"
)

// fakeDevices is an in-memory DeviceLog with the store's rules (the real
// one is tested against SQLite and PostgreSQL in internal/store): a new
// device becomes the account's User.NewDevice in users.
type fakeDevices struct {
	mu        sync.Mutex
	rows      map[int64]map[string]*fakeDevice
	users     *fakeUsers
	recordErr error
}

type fakeDevice struct {
	label     string
	lastSeen  time.Time
	newAt     time.Time
	newHandle string
}

var _ DeviceLog = (*fakeDevices)(nil)

func (f *fakeDevices) RecordDeviceLogin(_ context.Context, userID int64, key, label, handle string, at, cutoff time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recordErr != nil {
		return false, f.recordErr
	}
	if f.rows == nil {
		f.rows = map[int64]map[string]*fakeDevice{}
	}
	known := len(f.rows[userID]) > 0
	if f.rows[userID] == nil {
		f.rows[userID] = map[string]*fakeDevice{}
	}
	d, ok := f.rows[userID][key]
	isNew := known && (!ok || d.lastSeen.Before(cutoff))
	if !ok {
		d = &fakeDevice{}
		f.rows[userID][key] = d
	}
	d.label, d.lastSeen = label, at
	if isNew {
		d.newAt, d.newHandle = at, handle
		err := f.users.update(userID, func(u *user.User) {
			if !at.Before(u.NewDevice.At) {
				u.NewDevice = user.NewDevice{At: at.UTC().Truncate(time.Millisecond), Label: label, Handle: handle}
				u.StateVersion++
			}
		})
		return true, err
	}
	return isNew, nil
}

const (
	windowsFirefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
	macChrome      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	iPhoneSafari   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// newDeviceApp is the test app with a fake DeviceLog.
func newDeviceApp(t *testing.T) (*testApp, *fakeDevices) {
	t.Helper()
	a := newTestApp(t)
	devices := &fakeDevices{users: a.users}
	a.srv.devices = devices
	return a, devices
}

// newDeviceEvents returns the LoginNewDevice events recorded so far.
func newDeviceEvents(a *testApp) []audit.Event {
	var out []audit.Event
	for _, e := range a.audit.all() {
		if e.Type == audit.LoginNewDevice {
			out = append(out, e)
		}
	}
	return out
}

const noticeID = `id="new-device-notice"`

func TestNetworkOf(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"198.51.100.77", "198.51.100.77"},
		{"198.51.100.0", "198.51.100.0"},
		{"::ffff:198.51.100.77", "198.51.100.77"},
		{"2001:db8:abcd:12:1::5", "2001:db8:abcd:12::/64"},
		{"2001:db8:abcd:12:ffff:ffff:ffff:ffff", "2001:db8:abcd:12::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"127.0.0.1", "127.0.0.1"},
		{"", "unknown network"},
		{"203.0.113.7:443", "unknown network"},
		{"<script>", "unknown network"},
	}
	for _, tt := range tests {
		if got := networkOf(tt.ip); got != tt.want {
			t.Errorf("networkOf(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}

func TestSignInDeviceOf(t *testing.T) {
	a := newTestApp(t)
	tests := []struct{ agent, ip, wantLabel, wantKey string }{
		{windowsFirefox, "198.51.100.77", "Firefox on Windows", "Firefox on Windows|198.51.100.77"},
		{firefoxAgent, "198.51.100.77", "Firefox on Linux", "Firefox on Linux|198.51.100.77"},
		{macChrome, "2001:db8:1:2::3", "Chrome on macOS", "Chrome on macOS|2001:db8:1:2::/64"},
		{iPhoneSafari, "203.0.113.9", "Safari on iOS", "Safari on iOS|203.0.113.9"},
		{hostileAgent, "203.0.113.9", "Unknown browser", "Unknown browser|203.0.113.9"},
		{"", "", "Unknown browser", "Unknown browser|unknown network"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("User-Agent", tt.agent)
		r.RemoteAddr = net.JoinHostPort(tt.ip, "50000")
		if tt.ip == "" {
			r.RemoteAddr = ""
		}
		d := a.srv.signInDeviceOf(r)
		if d.Label != tt.wantLabel || d.Key() != tt.wantKey {
			t.Errorf("signInDeviceOf(%q, %q) = %q, key %q; want %q, key %q", tt.agent, tt.ip, d.Label, d.Key(), tt.wantLabel, tt.wantKey)
		}
	}
}

// TestNewDeviceSignIn follows the issue: a second browser is a new device
// (audited), the first session sees the notice once, the new one never,
// and the same browser again within 30 days raises nothing.
func TestNewDeviceSignIn(t *testing.T) {
	a, _ := newDeviceApp(t)

	first := a.loginWith("bob@example.com", windowsFirefox, true)
	if got := newDeviceEvents(a); len(got) != 0 {
		t.Fatalf("the account's first device raised %d new-device events: %+v", len(got), got)
	}
	_, body := first.get("/profile")
	mustNotContain(t, body, noticeID)

	a.clock.Advance(90 * time.Minute) // 10:30
	second := a.loginWith("bob@example.com", macChrome, true)
	events := newDeviceEvents(a)
	if len(events) != 1 {
		t.Fatalf("%d new-device events after a second browser, want 1: %+v", len(events), events)
	}
	if e := events[0]; e.ActorID != bobID || e.SubjectID != bobID || e.SessionHandle != second.handle ||
		e.Detail != "Chrome on macOS, 127.0.0.1" || e.IP != "127.0.0.1" || e.UserAgent != macChrome ||
		!e.Time.Equal(a.clock.Now()) {
		t.Errorf("new-device event = %+v", e)
	}

	a.clock.Advance(time.Minute)
	res, body := first.get("/sessions")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, `<p class="notice notice-warn" id="new-device-notice" role="status">New sign-in from Chrome on macOS, `+
		`<time datetime="2026-03-14T10:30:00Z">10:30 UTC</time> — not you? <a href="/sessions">Review your devices</a></p>`)
	_, body = first.get("/profile")
	mustNotContain(t, body, noticeID)
	_, body = second.get("/profile")
	mustNotContain(t, body, noticeID)

	// Chrome again, ten days later: known, nothing new, no notice.
	a.clock.Advance(10 * 24 * time.Hour)
	third := a.loginWith("bob@example.com", macChrome, true)
	if got := newDeviceEvents(a); len(got) != 1 {
		t.Errorf("a device seen 10 days ago raised a new event: %+v", got)
	}
	for _, c := range []*client{first, third} {
		if _, body := c.get("/profile"); strings.Contains(body, noticeID) {
			t.Errorf("notice shown after a sign-in from a known device:\n%s", mainOf(body))
		}
	}

	// 25 days later Chrome (seen 25 days ago) is known, Firefox (35 days)
	// is new again; the notice of another day carries the date. Other
	// accounts see nothing.
	a.clock.Advance(25 * 24 * time.Hour)
	third = a.loginWith("bob@example.com", macChrome, true)
	a.loginWith("bob@example.com", windowsFirefox, true)
	if got := newDeviceEvents(a); len(got) != 2 || got[1].Detail != "Firefox on Windows, 127.0.0.1" {
		t.Fatalf("new-device events after 25 days: %+v", got)
	}
	a.clock.Advance(24 * time.Hour)
	_, body = third.get("/profile")
	mustContain(t, body, "New sign-in from Firefox on Windows, ", ">18 Apr 2026, 10:31 UTC</time>")
	admin := a.login("admin@example.com", false)
	_, body = admin.get("/profile")
	mustNotContain(t, body, noticeID)
}

// TestNewDeviceNoticeSameSecond is issue 11's bug: a new-device sign-in in
// the same second as, but after, another session's login must reach that
// session (the notice compares milliseconds), and a session that signed
// in after it, in the same second, must not see it.
func TestNewDeviceNoticeSameSecond(t *testing.T) {
	a, _ := newDeviceApp(t)
	a.loginWith("bob@example.com", windowsFirefox, false) // the account's first device
	a.clock.Advance(time.Hour + 300*time.Millisecond)     // 10:00:00.300
	first := a.loginWith("bob@example.com", windowsFirefox, false)
	a.clock.Advance(400 * time.Millisecond) // 10:00:00.700
	a.loginWith("bob@example.com", macChrome, false)
	a.clock.Advance(200 * time.Millisecond) // 10:00:00.900
	later := a.loginWith("bob@example.com", windowsFirefox, false)

	_, body := first.get("/account")
	mustContain(t, body, noticeID, "New sign-in from Chrome on macOS, ")
	_, body = first.get("/account")
	mustNotContain(t, body, noticeID)
	_, body = later.get("/account")
	mustNotContain(t, body, noticeID)
}

// TestNewDeviceNoticeForSessionsStartedLater: a session that signs in after
// the new-device sign-in is not told about it.
func TestNewDeviceNoticeForSessionsStartedLater(t *testing.T) {
	a, _ := newDeviceApp(t)
	a.loginWith("bob@example.com", windowsFirefox, false)
	a.loginWith("bob@example.com", macChrome, false)
	a.clock.Advance(time.Second)
	later := a.loginWith("bob@example.com", windowsFirefox, false)
	if _, body := later.get("/profile"); strings.Contains(body, noticeID) {
		t.Error("a session that started after the new-device sign-in shows its notice")
	}
}

// TestNewDeviceNoticeNotMarkedUnlessShown: a HEAD request and a page that
// fails after preparing its data do not use up the notice.
func TestNewDeviceNoticeNotMarkedUnlessShown(t *testing.T) {
	a, _ := newDeviceApp(t)
	first := a.loginWith("admin@example.com", windowsFirefox, false)
	a.loginWith("admin@example.com", macChrome, false)

	res, _ := first.do(http.MethodHead, "/profile", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /profile: %d", res.StatusCode)
	}
	res, body := first.get("/admin/users?page=99") // 404 from newPager, after newTemplateData
	wantStatus(t, res, body, http.StatusNotFound)
	mustNotContain(t, body, noticeID)
	a.audit.mu.Lock()
	a.audit.listErr = errFake
	a.audit.mu.Unlock()
	// The profile still renders (activity and sign-ins unavailable) and
	// shows the notice.
	_, body = first.get("/profile")
	mustContain(t, body, noticeID, `<dd id="last-sign-in">Cannot be shown right now</dd>`)
	_, body = first.get("/profile")
	mustNotContain(t, body, noticeID)
}

func TestNewDeviceStoreErrors(t *testing.T) {
	a, devices := newDeviceApp(t)
	devices.recordErr = errFake
	c := a.loginWith("bob@example.com", windowsFirefox, false) // fails the test unless the sign-in succeeds
	if !strings.Contains(a.logs.String(), "known device not recorded") {
		t.Error("a failed device write was not logged")
	}
	devices.recordErr = nil
	a.loginWith("bob@example.com", macChrome, false)    // the first recorded device: not new
	a.loginWith("bob@example.com", iPhoneSafari, false) // new: c is told
	res, body := c.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, noticeID)
}

// TestProfileLastSignIns: the profile names the last sign-in other than
// the current session's and the last failed one.
func TestProfileLastSignIns(t *testing.T) {
	a, _ := newDeviceApp(t)
	first := a.loginWith("bob@example.com", windowsFirefox, true)
	_, body := first.get("/profile")
	mustContain(t, body, `<dd id="last-sign-in">None before this session</dd>`, `<dd id="last-failed-sign-in">None recorded</dd>`)

	a.clock.Advance(time.Hour)
	failed := a.newClient(iPhoneSafari)
	failed.do(http.MethodPost, "/login", url.Values{"email": {"bob@example.com"}, "password": {"wrong"}})
	a.newClient(hostileAgent).do(http.MethodPost, "/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong"}})
	a.clock.Advance(time.Hour)
	a.loginWith("bob@example.com", macChrome, true)

	_, body = first.get("/profile")
	mustContain(t, body,
		`<dd id="last-sign-in"><time datetime="2026-03-14T11:00:00Z">14 Mar 2026, 11:00 UTC</time> · Chrome 126 on macOS · 127.0.0.1</dd>`,
		`<dd id="last-failed-sign-in"><time datetime="2026-03-14T10:00:00Z">14 Mar 2026, 10:00 UTC</time> · Safari 17 on iOS · 127.0.0.1</dd>`,
	)
	// The newest sign-in is this session's own: the one before it is shown.
	a.clock.Advance(time.Hour)
	latest := a.loginWith("bob@example.com", macChrome, true)
	_, body = latest.get("/profile")
	mustContain(t, body, `<dd id="last-sign-in"><time datetime="2026-03-14T11:00:00Z">`)
}

// TestNewDeviceNoticeInKorean: the notice of a Korean reader who chose
// Asia/Seoul is in Korean, its time in Seoul time (10:30 UTC is 19:30
// KST), the device label in Korean word order.
func TestNewDeviceNoticeInKorean(t *testing.T) {
	a, _ := newDeviceApp(t)
	first := a.loginWith("bob@example.com", windowsFirefox, true)
	first.chooseLanguage("ko")
	res, body := first.post("/profile/time-zone", url.Values{"time_zone": {"Asia/Seoul"}})
	wantRedirect(t, res, body, "/profile")
	a.clock.Advance(90 * time.Minute) // 10:30 UTC
	a.loginWith("bob@example.com", macChrome, true)
	a.clock.Advance(time.Minute)
	res, body = first.get("/sessions")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, `<p class="notice notice-warn" id="new-device-notice" role="status">`+
		`<time datetime="2026-03-14T10:30:00Z">19:30</time>에 Chrome (macOS)에서 새로 로그인했습니다. `+
		`본인이 아니신가요? <a href="/sessions">내 기기 확인하기</a></p>`)
}
