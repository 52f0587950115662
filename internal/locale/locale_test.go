package locale_test

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/web"
)

func load(t *testing.T) *locale.Catalog {
	t.Helper()
	c, err := locale.Load(web.Locales)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCatalogueComplete fails when a message ID is in one language's
// catalogue and not in the other's, or when a message is empty.
func TestCatalogueComplete(t *testing.T) {
	c := load(t)
	en, ko := c.IDs("en"), c.IDs("ko")
	if len(en) < 100 {
		t.Fatalf("only %d English messages: the catalogue was not read", len(en))
	}
	if diff := cmp.Diff(en, ko); diff != "" {
		t.Errorf("message IDs differ between en (-) and ko (+):\n%s", diff)
	}
	for _, lang := range c.Langs() {
		for _, id := range c.IDs(lang) {
			if got := c.T(lang, id, "Count", 2, "Status", 404, "Email", "a@example.com", "Device", "Firefox",
				"IP", "192.0.2.1", "Page", 1, "Pages", 2, "ID", 7, "Handle", "h", "Zone", "UTC", "Reasons", "r"); got == id || strings.TrimSpace(got) == "" && id != "user.strength_join" {
				t.Errorf("%s: message %q renders as %q", lang, id, got)
			}
		}
	}
}

var fields = regexp.MustCompile(`\{\{[^}]*\}\}`)

// TestKoreanIsKorean: every Korean message that is a sentence in English
// is written in Hangul, not left in English (the language names, layouts
// and brand are the exceptions).
func TestKoreanIsKorean(t *testing.T) {
	c := load(t)
	for _, id := range c.IDs("ko") {
		if strings.HasPrefix(id, "format.") || strings.HasPrefix(id, "lang.") {
			continue
		}
		ko := fields.ReplaceAllString(strings.Join(c.Sources("ko", id), " "), "")
		hangul := false
		for _, r := range ko {
			if r >= 0xAC00 && r <= 0xD7A3 {
				hangul = true
				break
			}
		}
		if !hangul && strings.ContainsFunc(ko, unicode.IsLetter) {
			t.Errorf("ko %s = %q: no Hangul", id, ko)
		}
	}
}

// TestKoreanPossibleCausesAreHedged: a Korean sentence that lists several
// possible causes ("만료되었거나 …, 이미 사용되었거나 …, …") ends "수 있습니다":
// Korean binds the verb of the last item to the whole sentence, so "…복사되지
// 않았습니다" asserted the last cause as fact.
func TestKoreanPossibleCausesAreHedged(t *testing.T) {
	c := load(t)
	n := 0
	for _, id := range c.IDs("ko") {
		for _, src := range c.Sources("ko", id) {
			for _, sentence := range strings.SplitAfter(src, ". ") {
				if strings.Count(sentence, "거나") < 2 {
					continue
				}
				n++
				if !strings.HasSuffix(strings.TrimSpace(sentence), "수 있습니다.") {
					t.Errorf("ko %s: %q lists possible causes as fact", id, sentence)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no Korean sentence lists causes: reset.invalid does")
	}
}

// TestNegotiate: the lang cookie wins when it names a language of the
// catalogue; else Accept-Language is matched (q-values, regions, scripts);
// anything else, malformed included, is English.
func TestNegotiate(t *testing.T) {
	c := load(t)
	tests := []struct {
		name, cookie, accept, want string
	}{
		{"nothing", "", "", "en"},
		{"korean browser", "", "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"},
		{"bare ko", "", "ko", "ko"},
		{"english browser", "", "en-US,en;q=0.9", "en"},
		{"english preferred over korean", "", "en;q=0.9,ko;q=0.8", "en"},
		{"korean by q-value", "", "en;q=0.5,ko;q=0.8", "ko"},
		{"unsupported only", "", "fr-FR,de;q=0.8", "en"},
		{"unsupported then korean", "", "fr-FR,ko;q=0.5", "ko"},
		{"wildcard", "", "*", "en"},
		{"malformed header", "", "ko;q=x;;;,,@@", "en"},
		{"very long header", "", strings.Repeat("x-", 5000), "en"},
		{"cookie ko beats header", "ko", "en-US", "ko"},
		{"cookie en beats header", "en", "ko-KR", "en"},
		{"invalid cookie ignored", "fr", "ko-KR", "ko"},
		{"cookie with region is not a value we set", "ko-KR", "", "en"},
		{"cookie of markup ignored", `"><script>`, "", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Negotiate(tt.cookie, tt.accept); got != tt.want {
				t.Errorf("Negotiate(%q, %q) = %q, want %q", tt.cookie, tt.accept, got, tt.want)
			}
		})
	}
}

// TestZoneName: the zone chosen on the profile wins when it is one Latch
// offers; else the region of the browser's language, when it has one zone;
// else UTC.
func TestZoneName(t *testing.T) {
	tests := []struct {
		name, chosen, accept, want string
	}{
		{"nothing", "", "", "UTC"},
		{"korean browser", "", "ko-KR,ko;q=0.9", "Asia/Seoul"},
		{"bare ko implies KR", "", "ko", "Asia/Seoul"},
		{"japanese", "", "ja-JP", "Asia/Tokyo"},
		{"british", "", "en-GB,en;q=0.8", "Europe/London"},
		{"US has several zones", "", "en-US", "UTC"},
		{"chosen wins", "Europe/Paris", "ko-KR", "Europe/Paris"},
		{"chosen UTC wins", "UTC", "ko-KR", "UTC"},
		{"unknown chosen ignored", "Mars/Olympus", "ko-KR", "Asia/Seoul"},
		{"Local is not offered", "Local", "", "UTC"},
		{"path is not a zone", "../../etc/passwd", "", "UTC"},
		{"malformed header", "", ";;;", "UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := locale.ZoneName(tt.chosen, tt.accept); got != tt.want {
				t.Errorf("ZoneName(%q, %q) = %q, want %q", tt.chosen, tt.accept, got, tt.want)
			}
		})
	}
}

// TestLoadZone: every offered zone loads; anything else is refused.
func TestLoadZone(t *testing.T) {
	for _, name := range locale.Zones {
		if _, err := locale.LoadZone(name); err != nil {
			t.Errorf("LoadZone(%q): %v", name, err)
		}
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "asia/seoul", "Asia/Seoul\x00"} {
		if _, err := locale.LoadZone(bad); err == nil {
			t.Errorf("LoadZone(%q) = nil error", bad)
		}
	}
}

// TestReaderTime: the text of a time in the Korean form and the
// English one, in the reader's zone.
func TestReaderTime(t *testing.T) {
	c := load(t)
	seoul, _ := locale.LoadZone("Asia/Seoul")
	at := time.Date(2026, 12, 1, 6, 9, 0, 0, time.UTC)
	if got, want := c.Reader("ko", seoul, nil).Time(at), "2026년 12월 1일 15:09"; got != want {
		t.Errorf("ko Seoul: %q, want %q", got, want)
	}
	if got, want := c.Reader("en", seoul, nil).Time(at), "1 Dec 2026, 15:09 KST"; got != want {
		t.Errorf("en Seoul: %q, want %q", got, want)
	}
	if got, want := c.Reader("en", nil, nil).Clock(at), "06:09 UTC"; got != want {
		t.Errorf("en UTC clock: %q, want %q", got, want)
	}
	if got, want := c.Reader("ko", seoul, nil).Clock(at), "15:09"; got != want {
		t.Errorf("ko Seoul clock: %q, want %q", got, want)
	}
}

// TestReaderTimeNamesZoneOutsideSeoul: a Korean reader takes an unlabelled
// time to be KST, so a Korean time in any other zone names its zone (the
// reviewer saw "2026년 12월 1일 11:55" for 11:55 UTC); English always does.
func TestReaderTimeNamesZoneOutsideSeoul(t *testing.T) {
	c := load(t)
	at := time.Date(2026, 12, 1, 11, 55, 0, 0, time.UTC)
	tokyo, _ := locale.LoadZone("Asia/Tokyo")
	for _, tt := range []struct {
		name        string
		zone        *time.Location
		time, clock string
	}{
		{"UTC", nil, "2026년 12월 1일 11:55 (UTC)", "11:55 (UTC)"},
		{"Asia/Tokyo", tokyo, "2026년 12월 1일 20:55 (JST)", "20:55 (JST)"},
		{"fixed offset", time.FixedZone("", 3*3600), "2026년 12월 1일 14:55 (+0300)", "14:55 (+0300)"},
	} {
		rd := c.Reader("ko", tt.zone, nil)
		if got := rd.Time(at); got != tt.time {
			t.Errorf("ko %s: Time = %q, want %q", tt.name, got, tt.time)
		}
		if got := rd.Clock(at); got != tt.clock {
			t.Errorf("ko %s: Clock = %q, want %q", tt.name, got, tt.clock)
		}
	}
	if got, want := c.Reader("en", nil, nil).Time(at), "1 Dec 2026, 11:55 UTC"; got != want {
		t.Errorf("en UTC: %q, want %q", got, want)
	}
	if got, want := c.Reader("xx", nil, nil).Lang(), "en"; got != want {
		t.Errorf("unknown language: %q, want %q", got, want)
	}
}

// TestPlural: English counts pick one/other; Korean has one form.
func TestPlural(t *testing.T) {
	c := load(t)
	for _, tt := range []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "1 account"}, {"en", 2, "2 accounts"}, {"en", 0, "0 accounts"},
		{"ko", 1, "계정 1개"}, {"ko", 5, "계정 5개"},
	} {
		if got := c.T(tt.lang, "admin.users.count", "Count", tt.n); got != tt.want {
			t.Errorf("%s %d: %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
	if got := c.T("en", "no.such.message"); got != "no.such.message" {
		t.Errorf("unknown ID = %q, want the ID itself", got)
	}
}

// TestDevice: the server's English device labels in Korean; English as is.
func TestDevice(t *testing.T) {
	c := load(t)
	ko, en := c.Reader("ko", nil, nil), c.Reader("en", nil, nil)
	for label, want := range map[string]string{
		"Firefox 128 on Linux":       "Firefox 128 (Linux)",
		"Unknown browser on Windows": "알 수 없는 브라우저 (Windows)",
		"Unknown browser":            "알 수 없는 브라우저",
		"Safari 17":                  "Safari 17",
		"App: Bob's phone on iOS":    "앱: Bob's phone on iOS",
		"":                           "",
	} {
		if got := ko.Device(label); got != want {
			t.Errorf("ko Device(%q) = %q, want %q", label, got, want)
		}
		if got := en.Device(label); got != label {
			t.Errorf("en Device(%q) = %q, want it unchanged", label, got)
		}
	}
}
