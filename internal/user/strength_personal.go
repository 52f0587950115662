package user

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// A password made only of the person's own name and email address is
// refused whatever zxcvbn scores it. NIST SP 800-63B §3.1.1.2 lists
// "context-specific words, such as the name of the service, the username,
// and derivatives thereof" among the values a verifier must refuse, and
// zxcvbn alone lets some through: it prices each separator between two
// user inputs as a brute-forced character, so "Lovelace Lovelace" or
// "Lovelace lovelace example" score 3 or 4 for Ada Lovelace
// <lovelace@example.com>.
//
// The rule (madeOfPersonalWords): the judged characters (the same first
// MaxJudgedRunes zxcvbn sees), normalised (NFKC, case-folded, every
// character that is not a letter or digit removed), are refused when they
// are nothing but a run of personal words: the words of the hints (name
// words; the email address's local part split on . _ - + and its domain
// labels, as PasswordHints and personalWords split them), each of at least
// minPersonalRunes characters, in any order, repeated or not. When the
// password is longer than what is judged, the last word may be cut off.
// A passphrase that merely contains the name among other words ("Lovelace
// correct horse battery") is not refused by this rule; zxcvbn judges it,
// counting the name as a word an attacker tries first. Digits or other
// words that are not personal make the rule not apply either
// ("lovelace 1815" is left to zxcvbn, which refuses it).

// minPersonalRunes is the shortest hint word the rule uses. One letter
// (an initial) would make every password of repeated letters "personal"
// and name the wrong cause; two-letter names ("Li", "Jo") are kept.
const minPersonalRunes = 2

// foldPassword returns s in the form madeOfPersonalWords compares: NFKC,
// case-folded (Unicode full case folding, so "STRASSE" and "straße" are
// alike), with every character that is not a letter or digit removed.
func foldPassword(s string) string {
	s = cases.Fold().String(norm.NFKC.String(s))
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// personalWords returns the words of hints in the form foldPassword
// gives: each hint NFKC-normalised and case-folded, split on every
// character that is not a letter or digit, words shorter than
// minPersonalRunes left out, duplicates once.
func personalWords(hints []string) []string {
	var words []string
	for _, h := range hints {
		h = cases.Fold().String(norm.NFKC.String(h))
		for _, w := range strings.FieldsFunc(h, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if utf8.RuneCountInString(w) >= minPersonalRunes && !slices.Contains(words, w) {
				words = append(words, w)
			}
		}
	}
	return words
}

// madeOfPersonalWords reports whether judged (a password, or its first
// MaxJudgedRunes characters when truncated is true) is nothing but the
// words of hints, see the rule above. Its cost is O(len(judged) × total
// length of the words) byte comparisons: for 24 characters and a name and
// address of at most a few hundred bytes, microseconds
// (BenchmarkMadeOfPersonalWords, 2-core development machine, 2026-12-01:
// 34 µs for 24 characters that NFKC expands to 720 bytes, 4-5 µs for 24
// letters; zxcvbn takes 0.25-1.3 ms on the same judged characters).
func madeOfPersonalWords(judged string, truncated bool, hints []string) bool {
	s := foldPassword(judged)
	words := personalWords(hints)
	if s == "" || len(words) == 0 {
		return false
	}
	// reach[i]: s[:i] is a run of whole words.
	reach := make([]bool, len(s)+1)
	reach[0] = true
	for i := 0; i < len(s); i++ {
		if !reach[i] {
			continue
		}
		rest := s[i:]
		for _, w := range words {
			switch {
			case strings.HasPrefix(rest, w):
				reach[i+len(w)] = true
			case truncated && strings.HasPrefix(w, rest):
				return true // the last word, cut off where judging stops
			}
		}
	}
	return reach[len(s)]
}
