package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the fields a person types in.
const (
	// MaxEmailBytes is the longest email address accepted, in bytes
	// (RFC 5321 §4.5.3.1.3 path limit of 256 octets minus the angle brackets).
	MaxEmailBytes = 254
	// MaxLocalPartBytes is the longest part before the "@", in bytes
	// (RFC 5321 §4.5.3.1.1).
	MaxLocalPartBytes = 64
	// MaxNameRunes is the longest display name, in characters (runes).
	MaxNameRunes = 100
	// MinPasswordRunes is the shortest password, in characters (runes).
	// NIST SP 800-63B §3.1.1.2 asks for at least 8 (15 when the password is
	// the only factor); Latch uses 12.
	MinPasswordRunes = 12
	// MaxPasswordBytes is the longest password, in bytes. NIST SP 800-63B
	// asks verifiers to allow at least 64 characters; the byte cap keeps
	// hashing cost bounded.
	MaxPasswordBytes = 1024
)

// Messages shown to people. Kept together so the wording stays consistent.
const (
	msgEmailRequired = "Enter an email address like name@example.com"
	msgEmailInvalid  = "Enter an email address like name@example.com"
	msgEmailBare     = "Enter only the email address, like name@example.com, without a name or angle brackets"
	msgEmailTooLong  = "This email address is too long; use one with at most 254 characters"
	msgLocalTooLong  = "The part before the @ is too long; it can have at most 64 characters"
	msgEmailControl  = "The email address contains invisible control characters; type it again"
	msgEmailUTF8     = "The email address contains characters that could not be read; type it again"

	msgNameRequired = "Enter your name"
	msgNameTooLong  = "Use a name with at most 100 characters"
	msgNameControl  = "The name contains invisible control characters; type it again"
	msgNameUTF8     = "The name contains characters that could not be read; type it again"

	msgPasswordRequired = "Enter a password"
	msgPasswordShort    = "Use at least 12 characters"
	msgPasswordLong     = "Use a shorter password; the limit is 1024 bytes (about 1000 letters)"
	msgPasswordUTF8     = "The password contains characters that could not be read; type it again"
)

// NormalizeEmail checks an email address typed by a person and returns two
// forms of it: email is s with surrounding white space removed, as the
// person entered it (for display and sending mail); key is strings.ToLower
// of email and is what stores compare, so "A@x.com" and "a@X.com" are the
// same account.
//
// The address must be valid UTF-8, contain no control characters, be at most
// MaxEmailBytes bytes (local part at most MaxLocalPartBytes), parse with
// net/mail (RFC 5322, with RFC 6532 UTF-8) and be a bare address: no display
// name, angle brackets, comments or quoting. On failure err is a
// *ValidationError with Field "email" whose message can be shown as is.
func NormalizeEmail(s string) (email, key string, err error) {
	invalid := func(msg string) (string, string, error) {
		return "", "", &ValidationError{Field: "email", Message: msg}
	}
	if !utf8.ValidString(s) {
		return invalid(msgEmailUTF8)
	}
	email = strings.TrimSpace(s)
	switch {
	case email == "":
		return invalid(msgEmailRequired)
	case len(email) > MaxEmailBytes:
		return invalid(msgEmailTooLong)
	case hasControl(email):
		return invalid(msgEmailControl)
	}
	addr, perr := mail.ParseAddress(email)
	if perr != nil {
		if strings.ContainsAny(email, "<>") {
			return invalid(msgEmailBare)
		}
		return invalid(msgEmailInvalid)
	}
	if addr.Name != "" || addr.Address != email {
		// "Bob <bob@example.com>", "bob@example.com (Bob)" and quoted
		// local parts parse, but are not what a person should register.
		if strings.ContainsAny(email, "<>") || addr.Name != "" {
			return invalid(msgEmailBare)
		}
		return invalid(msgEmailInvalid)
	}
	at := strings.LastIndexByte(email, '@')
	if at > MaxLocalPartBytes {
		return invalid(msgLocalTooLong)
	}
	return email, strings.ToLower(email), nil
}

// ValidateName returns "" when name is acceptable, else a message for the
// person. The name is judged after trimming white space: it is required, at
// most MaxNameRunes characters, valid UTF-8 and free of control characters.
func ValidateName(name string) string {
	if !utf8.ValidString(name) {
		return msgNameUTF8
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return msgNameRequired
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return msgNameTooLong
	case hasControl(name):
		return msgNameControl
	}
	return ""
}

// ValidatePassword returns "" when pw is acceptable, else a message for the
// person. Following NIST SP 800-63B §3.1.1.2 (and §5.1.1.2 of the 2017
// edition): at least MinPasswordRunes characters, at most MaxPasswordBytes
// bytes, valid UTF-8; any Unicode character including spaces is allowed and
// there are no composition rules (no "must contain a digit"). The password is
// not trimmed.
func ValidatePassword(pw string) string {
	switch {
	case !utf8.ValidString(pw):
		return msgPasswordUTF8
	case pw == "":
		return msgPasswordRequired
	case len(pw) > MaxPasswordBytes:
		return msgPasswordLong
	case utf8.RuneCountInString(pw) < MinPasswordRunes:
		return msgPasswordShort
	}
	return ""
}

// ValidateRegistration checks a sign-up form. It returns a map from field
// ("email", "name", "password") to a message for the person; the map is
// empty (not nil) when every field is valid. The password must pass
// ValidateNewPassword with the email address and name as hints.
func ValidateRegistration(email, name, password string) map[string]string {
	problems := make(map[string]string)
	if _, _, err := NormalizeEmail(email); err != nil {
		problems["email"] = err.Error()
	}
	if msg := ValidateName(name); msg != "" {
		problems["name"] = msg
	}
	if msg := ValidateNewPassword(password, PasswordHints(email, name)...); msg != "" {
		problems["password"] = msg
	}
	return problems
}

// hasControl reports whether s contains a Unicode control character (Cc),
// such as NUL, tab, newline or DEL.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
