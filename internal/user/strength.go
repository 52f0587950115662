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
// fed with the person's email address and name; and a password made only
// of the words of that name and address is refused whatever zxcvbn says
// (madeOfPersonalWords, strength_personal.go: SP 800-63B §3.1.1.2's
// "context-specific words"). There are still no composition rules and no
// expiry.

// MinPasswordScore is the lowest zxcvbn score (0 to 4) a new password may
// have. 3 means zxcvbn estimates at least 10^8 guesses: "safely
// unguessable: moderate protection from offline slow-hash scenario".
const MinPasswordScore = 3

// MaxJudgedRunes is how much of a password the estimate looks at, in
// characters (runes). zxcvbn's matching and scoring grow much faster than
// linearly with the length. BenchmarkStrengthWorstCase, on the 2-core
// development machine (2026-12-01), judging 100 characters (the limit
// before): 0.43 s for random printable ASCII, 0.18 s for mixed scripts,
// 0.14 s for l33t look-alike symbols (the issue saw 1.2-2.5 s for 100
// symbols under load); judging the first 24 of a 1024-byte password of
// the same kinds: 0.35-2.1 ms, the worst being mixed scripts. So only the
// first 24 characters are judged, whatever the length: appending
// characters never makes a password easier to guess, so a prefix that
// passes means the whole password passes. The price is that a long
// passphrase must not start with its weak part, and a refusal says so
// (msgPasswordPrefix); 24 characters of a phrase ("correct horse battery
// st") score well above MinPasswordScore. No maintained Go estimator has
// a bounded cost (the zxcvbn ports share the algorithm), and a home-made
// cheaper test for long passphrases is not needed while a 24-character
// prefix judges them well.
const MaxJudgedRunes = 24

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
// PasswordHints), in the caller's goroutine. It suits callers that need
// neither a quota nor a bounded pool (a command-line tool); the server
// checks ValidatePassword, then its quotas, then StrengthChecker.Check.
func ValidateNewPassword(pw string, hints ...string) string {
	if msg := ValidatePassword(pw); msg != "" {
		return msg
	}
	return CheckPasswordStrength(pw, hints...)
}

// CheckPasswordStrength returns "" when zxcvbn scores pw at least
// MinPasswordScore, with hints (the person's email address, name, …)
// counted as words an attacker tries first, and pw is not made only of the
// words of hints (madeOfPersonalWords: "Lovelace lovelace example" for
// lovelace@example.com, however cased, spaced or repeated; a phrase that
// merely contains the name among other words is left to zxcvbn).
// Otherwise it returns a message that says in plain words why the password
// is easy to guess, such as "This password is too easy to guess: it
// contains your name or email address. …". Only the first MaxJudgedRunes
// characters are judged, by both rules, so its cost is bounded (a few
// milliseconds at most) whatever the input. pw must be valid UTF-8
// (ValidatePassword checks it).
//
// It runs in the caller's goroutine with no limit on concurrency: servers
// use a StrengthChecker instead, which bounds how many run at once.
func CheckPasswordStrength(pw string, hints ...string) string {
	return judgeStrength(zxcvbn.PasswordStrength, pw, hints)
}

// Judge estimates how guessable password is, given words (hints) an
// attacker would try first: zxcvbn.PasswordStrength's signature. Tests
// inject their own to count or block calls.
type Judge func(password string, hints []string) zxcvbn.Result

// judgeStrength is CheckPasswordStrength with judge as the estimator; judge
// never sees more than the first MaxJudgedRunes characters of pw.
func judgeStrength(judge Judge, pw string, hints []string) string {
	judged := firstRunes(pw, MaxJudgedRunes)
	truncated := len(judged) < len(pw)
	personal := madeOfPersonalWords(judged, truncated, hints)
	res := judge(judged, hints)
	if res.Score >= MinPasswordScore && !personal {
		return ""
	}
	msg := msgPasswordGuessable + weaknesses(res.Sequence, len(judged), personal) + ". " + msgPasswordAdvice
	if truncated {
		msg += ". " + msgPasswordPrefix
	}
	return msg
}

const (
	msgPasswordGuessable = "This password is too easy to guess: "
	msgPasswordAdvice    = "Try a longer phrase of words that do not usually go together"
	msgPasswordPrefix    = "Only the first 24 characters are judged, so make those hard to guess"
	msgPasswordPersonal  = "it contains your name or email address"
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
// byte offsets). personal means the password is made only of the person's
// own words (madeOfPersonalWords), which is then the first reason.
func weaknesses(seq []*match.Match, length int, personal bool) string {
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
	if personal {
		add("personal", msgPasswordPersonal, 0)
	}
	for _, m := range seq {
		whole := m.I == 0 && m.J == length-1
		switch m.Pattern {
		case "dictionary":
			switch m.DictionaryName {
			case "user_inputs":
				add("personal", msgPasswordPersonal, 0)
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
