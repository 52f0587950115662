package server

import (
	"net/http"
	"time"
)

// Flash messages survive one redirect in a short-lived cookie that holds
// only a code from this fixed list, never free text: anonymous visitors get
// flashes ("You have been logged out.") without a server-side session.
type flashCode string

const (
	flashLoggedOut  flashCode = "logged_out"
	flashRegistered flashCode = "registered"
	flashExpired    flashCode = "expired"

	flashSessionRevoked  flashCode = "session_revoked"   // a user ended one of their other sessions
	flashOthersRevoked   flashCode = "others_revoked"    // a user ended all their other sessions
	flashNoOthers        flashCode = "no_others"         // … and there were none
	flashSessionKilled   flashCode = "session_killed"    // an admin ended a session
	flashUserKilled      flashCode = "user_killed"       // an admin ended all sessions of an account
	flashOwnOthersKilled flashCode = "own_others_killed" // … of their own account, except the current one
	flashAccountDisabled flashCode = "account_disabled"  // an admin disabled an account
	flashAccountEnabled  flashCode = "account_enabled"   // an admin enabled an account
	flashPasswordReset   flashCode = "password_reset"    // a reset link set a new password and signed the person in
	flashSentTwice       flashCode = "sent_twice"        // a form confirmed with the password was sent twice at once
	flashTimeZoneSaved   flashCode = "time_zone_saved"   // the profile's time zone was saved
)

// flashMessage is the message ID of a flash code's words: "flash.CODE"
// in the catalogue (web/locales), one for every code above.
func flashMessage(code flashCode) string { return "flash." + string(code) }

// flashCodes are the codes above, for checking a cookie's value.
var flashCodes = map[flashCode]bool{
	flashLoggedOut: true, flashRegistered: true, flashExpired: true, flashSessionRevoked: true,
	flashOthersRevoked: true, flashNoOthers: true, flashSessionKilled: true, flashUserKilled: true,
	flashOwnOthersKilled: true, flashAccountDisabled: true, flashAccountEnabled: true,
	flashPasswordReset: true, flashSentTwice: true, flashTimeZoneSaved: true,
}

func (s *Server) flashCookieName() string {
	if s.secure {
		return "__Host-latch_flash"
	}
	return "latch_flash"
}

// setFlash makes the next page that renders show msg (60 seconds at most).
func (s *Server) setFlash(w http.ResponseWriter, code flashCode) {
	http.SetCookie(w, &http.Cookie{
		Name: s.flashCookieName(), Value: string(code), Path: "/", MaxAge: 60,
		Expires:  time.Now().Add(time.Minute),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// popFlash returns the pending flash message, if any, in r's reader's
// language, and clears it. Unknown codes are ignored.
func (s *Server) popFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(s.flashCookieName())
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.flashCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	if code := flashCode(c.Value); flashCodes[code] {
		return s.t(r, flashMessage(code))
	}
	return ""
}
