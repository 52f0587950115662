package server

import (
	"net/http"
	"strings"
)

// The account rules (internal/user) answer in English words, because the
// command line shows them as they are; a page shows them in its reader's
// language. The catalogue holds each sentence under "user." and the first
// eight words of its English text (userMessageID), and the strength
// check's message, which user composes from phrases ("This password is too
// easy to guess: " + reasons joined by ", and " + ". " + advice), is taken
// apart into those phrases.

// strengthHead and strengthJoin are how user's strength message begins
// and joins its reasons (internal/user strength.go).
const (
	strengthHead = "This password is too easy to guess: "
	strengthJoin = ", and "
)

// userTexts is userText of every value of a field → message map.
func (s *Server) userTexts(r *http.Request, msgs map[string]string) map[string]string {
	out := make(map[string]string, len(msgs))
	for field, msg := range msgs {
		out[field] = s.userText(r, msg)
	}
	return out
}

// userText is msg, a message of internal/user, in r's reader's language.
// English is msg itself; a sentence the catalogue lacks stays English.
func (s *Server) userText(r *http.Request, msg string) string {
	rd := s.readerOf(r)
	if rd.Lang() == "en" || msg == "" {
		return msg
	}
	one := func(sentence string) string {
		id := userMessageID(sentence)
		if t := rd.T(id); t != id {
			return t
		}
		return sentence
	}
	rest, ok := strings.CutPrefix(msg, strengthHead)
	if !ok {
		return one(msg)
	}
	sentences := strings.Split(rest, ". ")
	reasons := strings.Split(sentences[0], strengthJoin)
	for i := range reasons {
		reasons[i] = one(reasons[i])
	}
	out := rd.T("user.strength_head") + strings.Join(reasons, rd.T("user.strength_join"))
	for _, sentence := range sentences[1:] {
		out += " " + one(sentence)
	}
	return out
}

// userMessageID is the catalogue's ID of an English sentence of
// internal/user: "user." and its first eight words, lower case, letters
// and digits only, joined by "_" ("Use at least 12 characters" →
// "user.use_at_least_12_characters").
func userMessageID(sentence string) string {
	words := strings.FieldsFunc(strings.ToLower(sentence), func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < '0' || c > '9')
	})
	if len(words) > 8 {
		words = words[:8]
	}
	return "user." + strings.Join(words, "_")
}
