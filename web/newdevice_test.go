package web_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/web"
)

// TestNewDeviceNotice: the notice is on every page when set, escaped, with
// the time in UTC and a link to /sessions; absent otherwise.
func TestNewDeviceNotice(t *testing.T) {
	at := time.Date(2026, 3, 14, 10, 31, 0, 0, time.UTC)
	for _, page := range pages {
		data := signedIn()
		data.NewDevice = &deviceNotice{Device: xssName + " on Windows", Time: at.In(time.FixedZone("CET", 3600)), When: "10:31 UTC"}
		html := render(t, page, data)
		mustContain(t, html, `<p class="notice notice-warn" id="new-device-notice" role="status">New sign-in from `+
			`&lt;script&gt;alert(1)&lt;/script&gt; on Windows, <time datetime="2026-03-14T10:31:00Z">10:31 UTC</time>`+
			` — not you? <a href="/sessions">Review your devices</a></p>`)
		mustNotContain(t, html, "<script")
		checkReferences(t, html)

		if html := render(t, page, signedIn()); strings.Contains(html, "new-device-notice") {
			t.Errorf("%s: notice shown with no NewDevice", page)
		}
	}
}

// TestNewDeviceNoticeInKorean: the notice in Korean, with the device label
// in Korean word order and the time in the reader's zone.
func TestNewDeviceNoticeInKorean(t *testing.T) {
	c, err := locale.Load(web.Locales)
	if err != nil {
		t.Fatal(err)
	}
	seoul, _ := locale.LoadZone("Asia/Seoul")
	var l web.Locale = c.Reader("ko", seoul, nil)
	at := time.Date(2026, 3, 14, 10, 31, 0, 0, time.UTC)
	for _, page := range pages {
		data := signedIn()
		data.NewDevice = &deviceNotice{Device: "Firefox on Windows", Time: at, When: "19:31"}
		var buf bytes.Buffer
		if err := parsePageFor(t, page, &l).ExecuteTemplate(&buf, "base", data); err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		// The time comes first and the sentence ends the notice's words:
		// not "…로그인했습니다. 19:31 — …" (English word order).
		mustContain(t, buf.String(), `<html lang="ko">`,
			`<p class="notice notice-warn" id="new-device-notice" role="status">`+
				`<time datetime="2026-03-14T10:31:00Z">19:31</time>에 Firefox (Windows)에서 새로 로그인했습니다. `+
				`본인이 아니신가요? <a href="/sessions">내 기기 확인하기</a></p>`)
	}
}

// TestNewDeviceNoticeInKoreanEscaped: in the Korean notice, whose message
// places the <time> element among its words, the device label is still
// escaped, and a label holding the stand-in of the time element cannot
// put markup of its own there.
func TestNewDeviceNoticeInKoreanEscaped(t *testing.T) {
	c, err := locale.Load(web.Locales)
	if err != nil {
		t.Fatal(err)
	}
	var l web.Locale = c.Reader("ko", nil, nil)
	at := time.Date(2026, 3, 14, 10, 31, 0, 0, time.UTC)
	data := signedIn()
	data.NewDevice = &deviceNotice{Device: xssName + "\ue0000\ue001 on Windows", Time: at, When: "10:31 (UTC)"}
	var buf bytes.Buffer
	if err := parsePageFor(t, "profile", &l).ExecuteTemplate(&buf, "base", data); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	mustContain(t, html, `id="new-device-notice" role="status"><time datetime="2026-03-14T10:31:00Z">10:31 (UTC)</time>에 `+
		`&lt;script&gt;alert(1)&lt;/script&gt;`+"\ufffd0\ufffd"+` (Windows)에서 새로 로그인했습니다.`)
	mustNotContain(t, html, "<script")
	if n := strings.Count(html, "<time datetime=\"2026-03-14T10:31:00Z\">"); n != 1 {
		t.Errorf("%d time elements of the sign-in, want 1", n)
	}
}

// TestProfileSignIns: the last successful and failed sign-ins, or what to
// say when there are none or the log cannot be read.
func TestProfileSignIns(t *testing.T) {
	at := time.Date(2026, 3, 14, 10, 31, 0, 0, time.UTC)
	data := signedIn()
	data.SignIns = signInsView{
		Last:       &eventRow{Time: at, Device: "Chrome 126 on macOS", IP: "203.0.113.7"},
		LastFailed: &eventRow{Time: at.Add(time.Minute), Device: "Unknown browser", IP: "", UserAgent: xssAgent},
	}
	html := render(t, "profile", data)
	mustContain(t, html,
		`<h2 id="signins-heading">Sign-ins</h2>`,
		`<dd id="last-sign-in"><time datetime="2026-03-14T10:31:00Z">14 Mar 2026, 10:31 UTC</time> · Chrome 126 on macOS · 203.0.113.7</dd>`,
		`<dd id="last-failed-sign-in"><time datetime="2026-03-14T10:32:00Z">14 Mar 2026, 10:32 UTC</time> · Unknown browser · Unknown IP address</dd>`,
	)

	mustContain(t, render(t, "profile", signedIn()),
		`<dd id="last-sign-in">None before this session</dd>`,
		`<dd id="last-failed-sign-in">None recorded</dd>`)

	data.SignIns = signInsView{Unavailable: true}
	mustContain(t, render(t, "profile", data),
		`<dd id="last-sign-in">Cannot be shown right now</dd>`,
		`<dd id="last-failed-sign-in">Cannot be shown right now</dd>`)
}
