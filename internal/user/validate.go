package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	msgEmailFormat   = "The email address contains invisible formatting characters (such as a zero-width space or a text-direction mark); type it again without them"
	msgEmailMark     = "The email address contains an accent or mark that stands on its own instead of being part of a letter; type the address again without it"
	msgEmailScripts  = "The email address mixes letters of different alphabets (such as Latin and Cyrillic), which makes it look like another address; use the letters of one alphabet"

	msgNameRequired = "Enter your name"
	msgNameTooLong  = "Use a name with at most 100 characters"
	msgNameControl  = "The name contains invisible control characters; type it again"
	msgNameUTF8     = "The name contains characters that could not be read; type it again"
	msgNameFormat   = "The name contains invisible formatting characters (such as a zero-width space or a text-direction mark); type it again without them"

	msgPasswordRequired = "Enter a password"
	msgPasswordShort    = "Use at least 12 characters"
	msgPasswordLong     = "Use a shorter password; the limit is 1024 bytes (about 1000 letters)"
	msgPasswordUTF8     = "The password contains characters that could not be read; type it again"
)

// NormalizeEmail checks an email address typed by a person and returns two
// forms of it: email is s with surrounding white space removed and then
// normalised to Unicode NFKC (so fullwidth "ａｌｉｃｅ@example.com" becomes
// "alice@example.com"), for display and sending mail; key is
// strings.ToLower of email and is what stores compare, so "A@x.com" and
// "a@X.com" are the same account.
//
// The address must be valid UTF-8, contain no control characters (Cc) and
// no invisible characters (see hasFormat: category Cf such as zero-width
// space, soft hyphen and the bidirectional controls U+200E/F,
// U+202A-U+202E, U+2066-U+2069, U+061C; the other Unicode
// Default_Ignorable_Code_Point characters such as the combining grapheme
// joiner U+034F, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and the
// variation selectors), no combining mark (Mn, Me) left standing alone
// after NFKC has composed accented letters ("ali\u0307ce", "a\u0336"),
// be at most MaxEmailBytes bytes after NFKC (local part at most
// MaxLocalPartBytes), parse with net/mail (RFC 5322, with RFC 6532 UTF-8)
// and be a bare address: no display name, angle brackets, comments or
// quoting. Its local part and each label of its domain must each be
// written in one script (see singleScript: Unicode UTS #39 §5.2 "highly
// restrictive"), so "alіce" with a Cyrillic і is refused. On failure err is
// a *ValidationError with Field "email" whose message can be shown as is.
//
// Accounts made before these rules existed are still found:
// EmailLookupKeys also gives the key they were stored under.
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
	case len(email) > 4*MaxEmailBytes: // NFKC below is linear, but bound it anyway
		return invalid(msgEmailTooLong)
	case hasControl(email):
		return invalid(msgEmailControl)
	case hasFormat(email):
		return invalid(msgEmailFormat)
	}
	email = norm.NFKC.String(email)
	switch {
	case len(email) > MaxEmailBytes:
		return invalid(msgEmailTooLong)
	case hasControl(email):
		return invalid(msgEmailControl)
	case hasFormat(email):
		return invalid(msgEmailFormat)
	case hasMark(email):
		return invalid(msgEmailMark)
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
	if !singleScript(email[:at]) {
		return invalid(msgEmailScripts)
	}
	for _, label := range strings.Split(email[at+1:], ".") {
		if !singleScript(label) {
			return invalid(msgEmailScripts)
		}
	}
	return email, strings.ToLower(email), nil
}

// EmailLookupKeys returns the keys under which an account with the address
// s may be stored, most exact first: strings.ToLower of s trimmed (the key
// of every account made before NormalizeEmail applied NFKC, and of every
// account made since whose address NFKC leaves alone) and, when it
// differs, the key NormalizeEmail makes today. It applies none of the
// look-alike rules, so an account registered before they existed keeps
// signing in. It returns nil for text no account can have (empty, invalid
// UTF-8, control characters, longer than MaxEmailBytes), without which a
// store must not be asked at all.
func EmailLookupKeys(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxEmailBytes || !utf8.ValidString(s) || hasControl(s) {
		return nil
	}
	keys := []string{strings.ToLower(s)}
	if _, key, err := NormalizeEmail(s); err == nil && key != keys[0] {
		keys = append(keys, key)
	}
	return keys
}

// ValidateName returns "" when name is acceptable, else a message for the
// person. The name is judged after trimming white space: it is required, at
// most MaxNameRunes characters, valid UTF-8 and free of control characters
// (Cc) and invisible characters (Cf, bidirectional controls, Hangul fillers,
// variation selectors and the other default-ignorable code points: see
// hasFormat). A name may mix scripts ("Zoë 王小明") and carry combining
// marks.
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
	case hasFormat(name):
		return msgNameFormat
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

// ValidateRegistration checks a sign-up form with the cheap rules only:
// NormalizeEmail, ValidateName and ValidatePassword (length, UTF-8). It
// returns a map from field ("email", "name", "password") to a message for
// the person; the map is empty (not nil) when every field is valid.
//
// It does not judge how guessable the password is: that costs milliseconds
// of CPU, so callers run it only after the cheap rules and the registration
// quota, with StrengthChecker.Check (the server) or CheckPasswordStrength
// (the command line), hinted with PasswordHints(email, name).
func ValidateRegistration(email, name, password string) map[string]string {
	problems := make(map[string]string)
	if _, _, err := NormalizeEmail(email); err != nil {
		problems["email"] = err.Error()
	}
	if msg := ValidateName(name); msg != "" {
		problems["name"] = msg
	}
	if msg := ValidatePassword(password); msg != "" {
		problems["password"] = msg
	}
	return problems
}

// hasControl reports whether s contains a Unicode control character (Cc),
// such as NUL, tab, newline or DEL.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// bidiControls are the Unicode bidirectional formatting characters (UAX #9
// §2): LRM, RLM, ALM, LRE…RLO and LRI…PDI. All are in category Cf; they are
// listed so that the rule does not depend on it.
var bidiControls = []*unicode.RangeTable{{R16: []unicode.Range16{
	{Lo: 0x061c, Hi: 0x061c, Stride: 1},
	{Lo: 0x200e, Hi: 0x200f, Stride: 1},
	{Lo: 0x202a, Hi: 0x202e, Stride: 1},
	{Lo: 0x2066, Hi: 0x2069, Stride: 1},
}}}

// hasFormat reports whether s contains an invisible character: Unicode
// category Cf (zero-width space U+200B, soft hyphen U+00AD, zero-width
// joiner U+200D, byte order mark U+FEFF, …), a bidirectional control, or
// any other Default_Ignorable_Code_Point (Unicode UAX #44, DerivedCoreProperties:
// Other_Default_Ignorable_Code_Point such as the combining grapheme joiner
// U+034F and the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, and
// Variation_Selector U+180B-U+180D, U+180F, U+FE00-U+FE0F,
// U+E0100-U+E01EF). Such characters make two different strings look the
// same (UTS #39 §3.1 lists them as not allowed in identifiers). The Hangul
// fillers count as the Hangul script, so singleScript alone lets
// "alice\u3164" through.
func hasFormat(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
			unicode.In(r, bidiControls...)
	}) >= 0
}

// hasMark reports whether s contains a non-spacing or enclosing combining
// mark (Unicode categories Mn, Me). Run it after NFKC, which composes the
// ordinary accented letters ("e" + U+0301 becomes "é"), so what is left
// is a mark no precomposed letter has: a dot above "i" (U+0307), a
// strike-through (U+0336), a combining circle (U+20DD), each making an
// address that looks like another.
func hasMark(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.In(r, unicode.Mn, unicode.Me)
	}) >= 0
}

// scriptOf returns the name of the Unicode script of r ("Latin",
// "Cyrillic", "Common", "Inherited", …), or "Unknown" for a code point in
// none (unassigned). Common scripts are tried first.
func scriptOf(r rune) string {
	for _, name := range frequentScripts {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}

// frequentScripts are looked up first by scriptOf.
var frequentScripts = []string{"Common", "Latin", "Inherited", "Cyrillic", "Greek", "Han", "Hiragana", "Katakana", "Hangul", "Arabic", "Hebrew"}

// cjkScripts are the script combinations UTS #39 §5.2 allows in a "highly
// restrictive" identifier besides a single script: Latin with the scripts
// Chinese, Japanese and Korean text mix.
var cjkScripts = []map[string]bool{
	{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true}, // Japanese
	{"Latin": true, "Han": true, "Hangul": true},                     // Korean
	{"Latin": true, "Han": true, "Bopomofo": true},                   // Chinese
}

// singleScript reports whether s is "highly restrictive" in the sense of
// Unicode UTS #39 §5.2 (Restriction-Level Detection): all its letters are
// of one script, characters of the Common and Inherited scripts (digits,
// punctuation, combining marks) aside, or of one of the cjkScripts
// combinations. "alice", "jörg", "민준", "山田たろう" pass; "alіce" (Latin
// with a Cyrillic і) and "pаypal" do not.
func singleScript(s string) bool {
	seen := map[string]bool{}
	for _, r := range s {
		if name := scriptOf(r); name != "Common" && name != "Inherited" {
			seen[name] = true
		}
	}
	if len(seen) <= 1 {
		return true
	}
	for _, allowed := range cjkScripts {
		ok := true
		for name := range seen {
			ok = ok && allowed[name]
		}
		if ok {
			return true
		}
	}
	return false
}
