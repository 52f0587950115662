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
)

var flashMessages = map[flashCode]string{
	flashLoggedOut:  "You have been logged out.",
	flashRegistered: "Your account has been created. Log in to continue.",
	flashExpired:    "Your session has ended. Please log in again.",

	flashSessionRevoked:  "That session has been signed out.",
	flashOthersRevoked:   "All your other sessions have been signed out.",
	flashNoOthers:        "You had no other sessions to sign out.",
	flashSessionKilled:   "The session has been ended.",
	flashUserKilled:      "All sessions of this account have been ended.",
	flashOwnOthersKilled: "All sessions of your account except this one have been ended.",
	flashAccountDisabled: "The account has been disabled and all its sessions ended.",
	flashAccountEnabled:  "The account has been enabled. Its owner can log in again.",
	flashPasswordReset:   "Your new password is set and you are signed in. Every other session of your account has been signed out.",
	flashSentTwice:       "That form was sent twice at the same moment. It was carried out once; check the result here.",
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

// popFlash returns the pending flash message, if any, and clears it.
// Unknown codes are ignored.
func (s *Server) popFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(s.flashCookieName())
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.flashCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	return flashMessages[flashCode(c.Value)]
}
