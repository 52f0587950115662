package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/internal/user"
)

// timeZoneField is the profile form's field: an IANA name of
// locale.Zones, or "" for "from my browser's language".
const timeZoneField = "time_zone"

// zoneOptions is the profile's time zone select for r's account (its
// chosen zone selected, else the first option, "from my browser's
// language"; each zone with its offset now: zoneLabel), and the zone the
// first option gives (locale.ZoneName).
func (s *Server) zoneOptions(r *http.Request) ([]option, string) {
	chosen := ""
	if u := currentUser(r.Context()); u != nil {
		chosen = u.TimeZone
	}
	auto := locale.ZoneName("", r.Header.Get("Accept-Language"))
	opts := make([]option, 0, len(locale.Zones)+1)
	opts = append(opts, option{Value: "", Label: s.t(r, "profile.zone_auto", "Zone", auto), Selected: chosen == ""})
	now := s.clock()
	for _, z := range locale.Zones {
		opts = append(opts, option{Value: z, Label: zoneLabel(z, now), Selected: z == chosen})
	}
	return opts, auto
}

// zoneLabel names zone for the select: its IANA name and its offset from
// UTC at now, "Asia/Seoul (UTC+09:00)", "UTC".
func zoneLabel(zone string, now time.Time) string {
	loc, err := locale.LoadZone(zone)
	if err != nil || zone == "UTC" {
		return zone
	}
	return zone + " (UTC" + now.In(loc).Format("-07:00") + ")"
}

// timeZoneChange stores the time zone the signed-in person chose on the
// profile (POST /profile/time-zone, CSRF-checked by the route): one of
// locale.Zones, or "" for none (the pages then follow the browser's
// language). A name not in the list answers 422 with the profile and a
// message next to the select, and nothing is saved. The choice is part of
// the account (users.time_zone, and its state copy), so it holds on every
// device; it is a preference, not a credential, so it needs no
// re-authentication and records no audit event.
func (s *Server) timeZoneChange(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r.Context())
	zone := r.PostForm.Get(timeZoneField)
	if zone != "" {
		if _, err := locale.LoadZone(zone); err != nil {
			s.renderProfile(w, r, s.statusOf(err), map[string]string{timeZoneField: s.t(r, "profile.zone_invalid")})
			return nil
		}
	}
	err := s.users.SetTimeZone(r.Context(), u.ID, zone)
	if errors.Is(err, user.ErrStateCopyNotWritten) {
		// Saved in SQL; the held copy fails closed until it expires.
		s.log.WarnContext(r.Context(), "account state copy not written", "user_id", u.ID, "err", err)
		err = nil
	}
	if err != nil {
		return err
	}
	s.setFlash(w, flashTimeZoneSaved)
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
	return nil
}
