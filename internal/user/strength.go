package user

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// Password quality beyond length: a new password must not be among the
// most common or easily guessed ones (NIST SP 800-63B §3.1.1.2 asks
// verifiers to compare new passwords against a list of commonly used,
// expected or compromised values). Latch uses zxcvbn (Dropbox's estimator,
// github.com/trustelem/zxcvbn: 30,000 common passwords, names, English
// words, keyboard patterns, sequences, repeats, dates and l33t spellings),
// fed with the person's email address and name. There are still no
// composition rules and no expiry.

// MinPasswordScore is the lowest zxcvbn score (0 to 4) a new password may
// have. 3 means zxcvbn estimates at least 10^8 guesses: "safely
// unguessable: moderate protection from offline slow-hash scenario".
const MinPasswordScore = 3

// maxStrengthRunes is how much of a password the estimate looks at.
// zxcvbn's matching grows faster than linearly with the length (about 30 ms
// at 100 characters, 10 s at 1024), and the check runs before any rate
// limit can apply, so only the first 100 characters are judged: appending
// characters never makes a password easier to guess, so a prefix that
// passes means the whole password passes.
const maxStrengthRunes = 100

// minHintRunes is the shortest piece of an email address or name used as a
// hint; shorter pieces ("a", "jo") would match by accident.
const minHintRunes = 3

// PasswordHints returns the words zxcvbn should treat as known to an
// attacker for the account with this email address and name: the address,
// its local part and the words in it, the first label of its domain, the
// name and the words in it. Pieces shorter than three characters are left
// out.
func PasswordHints(email, name string) []string {
	var hints []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if utf8.RuneCountInString(s) >= minHintRunes && !slices.Contains(hints, s) {
			hints = append(hints, s)
		}
	}
	words := func(s string) {
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(w)
		}
	}
	email = strings.ToLower(strings.TrimSpace(email))
	add(email)
	if local, domain, ok := strings.Cut(email, "@"); ok {
		add(local)
		words(local)
		label, _, _ := strings.Cut(domain, ".")
		add(label)
	}
	add(name)
	words(name)
	return hints
}

// ValidateNewPassword returns "" when pw may become an account's password,
// else a message for the person: first the rules of ValidatePassword
// (length, UTF-8), then CheckPasswordStrength with hints (see
// PasswordHints). Use it wherever a password is chosen: registration,
// password change, reset, `latch user create`.
func ValidateNewPassword(pw string, hints ...string) string {
	if msg := ValidatePassword(pw); msg != "" {
		return msg
	}
	return CheckPasswordStrength(pw, hints...)
}

// CheckPasswordStrength returns "" when zxcvbn scores pw at least
// MinPasswordScore, with hints (the person's email address, name, …)
// counted as words an attacker tries first; otherwise it returns a message
// that says in plain words why the password is easy to guess, such as
// "This password is too easy to guess: it contains your name or email
// address. …". Only the first 100 characters are judged (see
// maxStrengthRunes). pw must be valid UTF-8 (ValidatePassword checks it).
func CheckPasswordStrength(pw string, hints ...string) string {
	pw = firstRunes(pw, maxStrengthRunes)
	res := zxcvbn.PasswordStrength(pw, hints)
	if res.Score >= MinPasswordScore {
		return ""
	}
	return msgPasswordGuessable + weaknesses(res.Sequence, len(pw)) + ". " + msgPasswordAdvice
}

const (
	msgPasswordGuessable = "This password is too easy to guess: "
	msgPasswordAdvice    = "Try a longer phrase of words that do not usually go together"
)

// reason is one thing that makes a password easy to guess.
type reason struct {
	kind  string // one reason per kind is given: the most telling
	words string
	order int // lower is more telling, and said first
}

// weaknesses says why the matches zxcvbn found make the password easy to
// guess: at most two reasons, most telling first, joined by ", and ".
// length is the length of the judged password in bytes (match indexes are
// byte offsets).
func weaknesses(seq []*match.Match, length int) string {
	var reasons []reason
	add := func(kind, words string, order int) {
		i := slices.IndexFunc(reasons, func(r reason) bool { return r.kind == kind })
		switch {
		case i < 0:
			reasons = append(reasons, reason{kind, words, order})
		case order < reasons[i].order:
			reasons[i] = reason{kind, words, order}
		}
	}
	for _, m := range seq {
		whole := m.I == 0 && m.J == length-1
		switch m.Pattern {
		case "dictionary":
			switch m.DictionaryName {
			case "user_inputs":
				add("personal", "it contains your name or email address", 0)
			case "passwords":
				verb := "contains"
				if whole {
					verb = "is"
				}
				switch {
				case m.Rank <= 10:
					add("password", "it "+verb+" one of the ten most common passwords", 10)
				case m.Rank <= 100:
					add("password", "it "+verb+" one of the hundred most common passwords", 11)
				case whole:
					add("password", "it is a commonly used password", 12)
				default:
					add("password", "it is built on a commonly used password", 13)
				}
			case "female_names", "male_names", "surnames":
				add("name", "it contains a common first name or surname", 20)
			default: // english_wikipedia, us_tv_and_film
				if whole {
					add("word", "it is a single common word", 20)
				} else {
					add("word", "it is made of common words", 30)
				}
			}
			if m.Reversed {
				add("reversed", "words spelled backwards are easy to guess too", 40)
			}
			if m.L33t {
				add("l33t", "swapping letters for look-alike symbols, like @ for a, does not help much", 40)
			}
		case "spatial":
			add("spatial", "it follows a row or pattern of keys on the keyboard", 20)
		case "repeat":
			add("repeat", "it repeats characters or words, like aaa or abcabc", 20)
		case "sequence":
			add("sequence", "it contains a sequence, like abc or 6543", 20)
		case "regex":
			add("year", "it contains a recent year", 30)
		case "date":
			add("date", "it contains a date", 30)
		}
	}
	if len(reasons) == 0 {
		return "it is short and predictable"
	}
	slices.SortStableFunc(reasons, func(a, b reason) int { return cmp.Compare(a.order, b.order) })
	if len(reasons) > 2 {
		reasons = reasons[:2]
	}
	out := reasons[0].words
	if len(reasons) == 2 {
		out += ", and " + reasons[1].words
	}
	return out
}

// firstRunes returns the first n characters of s (all of s when shorter).
func firstRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
