// Package locale is Latch's languages and clocks: the message catalogues
// (web/locales/active.LANG.toml, read with go-i18n), the choice of a
// reader's language (the lang cookie, else Accept-Language negotiation
// with golang.org/x/text/language, else English) and of their time zone
// (the one chosen on the profile, else one guessed from the
// Accept-Language region, else UTC), and the text of a time in both.
//
// Every string a person reads on a page comes from the catalogue by its
// message ID ("login.title"); a missing ID shows as itself, which the
// server's every-page test catches.
package locale

import (
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // the zones load on hosts without /usr/share/zoneinfo

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/latch/latch/internal/fail"
)

// Default is the language of a reader whose lang cookie and
// Accept-Language name no language Latch has: English.
const Default = "en"

// supported are the languages of the catalogue, the default first (the
// matcher falls back to the first).
var supported = []language.Tag{language.English, language.Korean}

// Catalog holds the messages of every language. It is safe for
// concurrent use.
type Catalog struct {
	localizers map[string]*i18n.Localizer
	ids        map[string][]string // message IDs per language, sorted
	messages   map[string]map[string]*i18n.Message
	plain      map[string]map[string]string // per language: the messages with one form and no template field
	matcher    language.Matcher
	layouts    map[string]layouts // per language: the time layouts of format.*
}

// Load reads the catalogues active.LANG.toml at the root of fsys (LANG
// "en" and "ko"). Errors: a file missing or not valid TOML, or a language
// without the time layouts "format.datetime" and "format.time".
func Load(fsys fs.FS) (*Catalog, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	c := &Catalog{localizers: map[string]*i18n.Localizer{}, ids: map[string][]string{}, messages: map[string]map[string]*i18n.Message{}, plain: map[string]map[string]string{},
		matcher: language.NewMatcher(supported), layouts: map[string]layouts{}}
	for _, tag := range supported {
		lang := tag.String()
		name := "active." + lang + ".toml"
		mf, err := b.LoadMessageFileFS(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("locale: %s: %w", name, err)
		}
		ids := make([]string, 0, len(mf.Messages))
		c.messages[lang] = make(map[string]*i18n.Message, len(mf.Messages))
		c.plain[lang] = make(map[string]string, len(mf.Messages))
		for _, m := range mf.Messages {
			ids = append(ids, m.ID)
			c.messages[lang][m.ID] = m
			delim := m.LeftDelim
			if delim == "" {
				delim = "{{"
			}
			if m.Zero == "" && m.One == "" && m.Two == "" && m.Few == "" && m.Many == "" && !strings.Contains(m.Other, delim) {
				c.plain[lang][m.ID] = m.Other
			}
		}
		sort.Strings(ids)
		c.ids[lang] = ids
		c.localizers[lang] = i18n.NewLocalizer(b, lang)
	}
	for _, tag := range supported {
		lang := tag.String()
		var l layouts
		for _, f := range []struct {
			id  string
			out *string
		}{
			{"format.datetime", &l.datetime}, {"format.time", &l.time},
			{"format.datetime_zoned", &l.datetimeZoned}, {"format.time_zoned", &l.timeZoned},
			{"format.home_zone", &l.home},
		} {
			if *f.out = c.T(lang, f.id); *f.out == f.id {
				return nil, fmt.Errorf("locale: %s: no %s", lang, f.id)
			}
		}
		c.layouts[lang] = l
	}
	return c, nil
}

// Langs returns the catalogue's language tags, "en" and "ko".
func (c *Catalog) Langs() []string {
	out := make([]string, 0, len(supported))
	for _, t := range supported {
		out = append(out, t.String())
	}
	return out
}

// IDs returns the message IDs of lang's catalogue, sorted (nil for a
// language it does not have).
func (c *Catalog) IDs(lang string) []string { return slices.Clone(c.ids[lang]) }

// Sources returns the text of message id in lang as written in the
// catalogue, template fields unfilled: its plural forms that are not
// empty (one form for most messages). Nil for an unknown id.
func (c *Catalog) Sources(lang, id string) []string {
	m, ok := c.messages[lang][id]
	if !ok {
		return nil
	}
	var out []string
	for _, f := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Valid reports whether lang is one of the catalogue's languages.
func (c *Catalog) Valid(lang string) bool { _, ok := c.localizers[lang]; return ok }

// Negotiate returns the reader's language: cookie when it names one of
// the catalogue's languages, else the best match of acceptLanguage (an
// Accept-Language header, RFC 9110 §12.5.4), else Default. Invalid values
// of either are ignored.
func (c *Catalog) Negotiate(cookie, acceptLanguage string) string {
	if c.Valid(cookie) {
		return cookie
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Default
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	return supported[i].String()
}

// T returns the text of message id in lang, with args as pairs of a
// template field and its value ("Count", 3, "Email", "a@example.com").
// A message given a "Count" picks its plural form by it (one/other in
// English; Korean has one form). An unknown language is Default; an
// unknown id, or an odd or non-string name in args, returns id itself,
// so that the mistake shows.
func (c *Catalog) T(lang, id string, args ...any) string {
	l, ok := c.localizers[lang]
	if !ok {
		lang, l = Default, c.localizers[Default]
	}
	if len(args) == 0 { // most of a page's words: a map read, not go-i18n's template machinery
		if s, ok := c.plain[lang][id]; ok {
			return s
		}
	}
	lc := &i18n.LocalizeConfig{MessageID: id}
	if len(args) > 0 {
		if len(args)%2 != 0 {
			return id
		}
		data := make(map[string]any, len(args)/2)
		for i := 0; i < len(args); i += 2 {
			k, ok := args[i].(string)
			if !ok {
				return id
			}
			data[k] = args[i+1]
		}
		lc.TemplateData = data
		if n, ok := data["Count"]; ok {
			lc.PluralCount = n
		}
	}
	s, err := l.Localize(lc)
	if err != nil {
		return id
	}
	return s
}

// layouts are a language's Go time layouts: datetime and time for a reader
// in the language's home zone (format.home_zone, an IANA name), where a
// reader takes an unlabelled time to be in that zone (a Korean reader reads
// "15:09" as KST); the zoned ones, which name the zone, for every other zone.
type layouts struct {
	datetime, time, datetimeZoned, timeZoned, home string
}

// pick returns unzoned for a reader in the home zone, else zoned.
func (l layouts) pick(zone *time.Location, unzoned, zoned string) string {
	if zone.String() == l.home {
		return unzoned
	}
	return zoned
}

// Reader is whom a page is rendered for: a language of the catalogue and
// a time zone. It implements web.Locale.
type Reader struct {
	c    *Catalog
	lang string
	zone *time.Location
	// switchURL returns the page's address in another language (see
	// SwitchURL); nil gives "?lang=TAG".
	switchURL func(lang string) string
}

// Reader returns the reader of lang (Default when unknown) in zone (UTC
// when nil); switchURL makes the language switch's links (nil: "?lang=TAG").
func (c *Catalog) Reader(lang string, zone *time.Location, switchURL func(lang string) string) *Reader {
	if !c.Valid(lang) {
		lang = Default
	}
	if zone == nil {
		zone = time.UTC
	}
	return &Reader{c: c, lang: lang, zone: zone, switchURL: switchURL}
}

// Lang is the reader's language tag, "en" or "ko".
func (r *Reader) Lang() string { return r.lang }

// Zone is the reader's time zone.
func (r *Reader) Zone() *time.Location { return r.zone }

// T is Catalog.T in the reader's language.
func (r *Reader) T(id string, args ...any) string { return r.c.T(r.lang, id, args...) }

// Time is t in the reader's zone, as the catalogue's format.datetime lays
// it out in the language's home zone and format.datetime_zoned elsewhere:
// "1 Dec 2026, 15:09 KST", "2026년 12월 1일 15:09" (in Asia/Seoul),
// "2026년 12월 1일 06:09 (UTC)".
func (r *Reader) Time(t time.Time) string {
	l := r.c.layouts[r.lang]
	return t.In(r.zone).Format(l.pick(r.zone, l.datetime, l.datetimeZoned))
}

// Clock is t's time of day in the reader's zone (format.time in the
// language's home zone, else format.time_zoned): "15:09 KST", "15:09" (ko
// in Asia/Seoul), "06:09 (UTC)".
func (r *Reader) Clock(t time.Time) string {
	l := r.c.layouts[r.lang]
	return t.In(r.zone).Format(l.pick(r.zone, l.time, l.timeZoned))
}

// SameDay reports whether a and b fall on the same calendar day in the
// reader's zone.
func (r *Reader) SameDay(a, b time.Time) bool {
	ay, am, ad := a.In(r.zone).Date()
	by, bm, bd := b.In(r.zone).Date()
	return ay == by && am == bm && ad == bd
}

// Langs are the catalogue's languages (Catalog.Langs).
func (r *Reader) Langs() []string { return r.c.Langs() }

// Device is a device label of internal/account (SessionDevice,
// DeviceName: "Firefox 128 on Linux", "Unknown browser on Windows",
// "Unknown browser", "App: <the name the app gave>"; English, as stored
// with the account's known devices) in the reader's language: the
// catalogue's device.on ("{{.Browser}} ({{.OS}})"), device.unknown_browser
// and device.app. English is the label itself.
func (r *Reader) Device(label string) string {
	if r.lang == Default {
		return label
	}
	if name, ok := strings.CutPrefix(label, "App: "); ok { // the app's own name: not taken apart
		return r.T("device.app", "Name", name)
	}
	browser, os := label, ""
	if i := strings.LastIndex(label, " on "); i >= 0 {
		browser, os = label[:i], label[i+len(" on "):]
	}
	if browser == "Unknown browser" {
		browser = r.T("device.unknown_browser")
	}
	if os == "" {
		return browser
	}
	return r.T("device.on", "Browser", browser, "OS", os)
}

// SwitchURL is the address of the current page in lang.
func (r *Reader) SwitchURL(lang string) string {
	if r.switchURL == nil {
		return "?lang=" + lang
	}
	return r.switchURL(lang)
}

// Zones are the time zones a person can choose on the profile (IANA names,
// loaded with time.LoadLocation; the binary embeds time/tzdata). "" (not
// in the list) means "from my browser's language".
var Zones = []string{
	"UTC",
	"Asia/Seoul", "Asia/Tokyo", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore",
	"Asia/Manila", "Asia/Bangkok", "Asia/Ho_Chi_Minh", "Asia/Jakarta", "Asia/Kolkata", "Asia/Dubai",
	"Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
	"Europe/Rome", "Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens",
	"Europe/Istanbul", "Europe/Moscow",
	"Africa/Cairo", "Africa/Lagos", "Africa/Johannesburg",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Anchorage",
	"America/Toronto", "America/Vancouver", "America/Mexico_City", "America/Sao_Paulo",
	"America/Argentina/Buenos_Aires",
	"Pacific/Honolulu", "Pacific/Auckland",
	"Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Perth",
}

// zoneLocations are the loaded Zones, by name: time.LoadLocation parses
// the zone's data at every call, too slow for every page. Filled once, at
// start-up, and only read after.
var zoneLocations = func() map[string]*time.Location {
	m := make(map[string]*time.Location, len(Zones))
	for _, name := range Zones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			panic("locale: time zone " + name + ": " + err.Error()) // time/tzdata has every zone of the list
		}
		m[name] = loc
	}
	return m
}()

// LoadZone returns the location of name, one of Zones. Errors: a name not
// in Zones (wrapped ErrUnknownZone).
func LoadZone(name string) (*time.Location, error) {
	loc, ok := zoneLocations[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownZone, name)
	}
	return loc, nil
}

// ErrUnknownZone means a time zone name is not one Latch offers.
var ErrUnknownZone = fail.New(fail.Invalid, "locale: unknown time zone")

// regionZones are the time zones of regions (ISO 3166) that have one, for
// a reader who chose none: the region of their browser's language
// ("ko-KR" → Asia/Seoul). Regions with several zones (US, CA, AU, BR, RU…)
// are not here: UTC is less wrong than a guess.
var regionZones = map[string]string{
	"KR": "Asia/Seoul", "JP": "Asia/Tokyo", "CN": "Asia/Shanghai", "HK": "Asia/Hong_Kong",
	"TW": "Asia/Taipei", "SG": "Asia/Singapore", "PH": "Asia/Manila", "TH": "Asia/Bangkok",
	"VN": "Asia/Ho_Chi_Minh", "IN": "Asia/Kolkata", "AE": "Asia/Dubai",
	"GB": "Europe/London", "IE": "Europe/Dublin", "PT": "Europe/Lisbon", "FR": "Europe/Paris",
	"DE": "Europe/Berlin", "AT": "Europe/Berlin", "CH": "Europe/Berlin", "ES": "Europe/Madrid",
	"IT": "Europe/Rome", "NL": "Europe/Amsterdam", "BE": "Europe/Paris", "SE": "Europe/Stockholm",
	"PL": "Europe/Warsaw", "GR": "Europe/Athens", "TR": "Europe/Istanbul",
	"EG": "Africa/Cairo", "NG": "Africa/Lagos", "ZA": "Africa/Johannesburg", "NZ": "Pacific/Auckland",
}

// ZoneName returns the time zone of a reader: chosen when it is one of
// Zones, else that of the region of the first language in acceptLanguage
// that names (or implies, as "ko" implies KR) a region with one zone, else
// "UTC".
func ZoneName(chosen, acceptLanguage string) string {
	if _, ok := zoneLocations[chosen]; ok {
		return chosen
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil {
		return "UTC"
	}
	for _, t := range tags {
		reg, conf := t.Region()
		if conf == language.No {
			continue
		}
		if z, ok := regionZones[reg.String()]; ok {
			return z
		}
		return "UTC"
	}
	return "UTC"
}

// Zone is ZoneName's location.
func Zone(chosen, acceptLanguage string) *time.Location {
	if loc, ok := zoneLocations[ZoneName(chosen, acceptLanguage)]; ok {
		return loc
	}
	return time.UTC
}
