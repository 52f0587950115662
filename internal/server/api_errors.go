package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/locale"
	"github.com/latch/latch/internal/session"
)

// This file is the API's error adapter: every failure on /api/* becomes an
// RFC 9457 problem details object (application/problem+json), at the
// status, with the words and the Retry-After of THE table (errors.go:
// answerOf) — there is no second table. The words are English, as are
// the API's: the catalogue of the pages does not cover it.

// Errors the API itself returns, each answered from the table.
var (
	// errAPIContentType: a body that is not application/json (415: its row in kindAnswer).
	errAPIContentType = fail.New(fail.Invalid, "api: request body is not application/json")
	// errAPIBody: a body that is not one JSON object of the documented fields (400).
	errAPIBody = fail.New(fail.Invalid, "api: request body does not decode")
	// errReauthRequired: revoking another session needs the password
	// entered within the re-authentication window (403; POST /api/v1/reauth).
	errReauthRequired = fail.New(fail.Forbidden, "api: re-authentication required")
)

// problem is an RFC 9457 problem details object. Type is "about:blank"
// (RFC 9457 §4.2.1: the status says it all) and Title the status's reason
// phrase; Errors, an extension member, names the fields of a 422 (every
// 422 has it) and of the 403 of a wrong current_password.
type problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail,omitempty"`
	Errors map[string]string `json:"errors,omitempty"`
}

// isAPIPath reports whether r is for the JSON API: serverError answers it
// with apiError instead of a page (so that 404, 405, a bad URL, a panic
// and a session store failure on /api/* are problems too).
func isAPIPath(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

// apiError answers err on an API route: logged as serverError logs, then
// the table's status and words as a problem, with Retry-After for 429 and
// 503. A 401 carries WWW-Authenticate (RFC 6750 §3): `Bearer
// realm="latch"` when the request offered no bearer token (no
// Authorization header, another scheme, an empty Bearer: RFC 6750 §3.1
// gives no error code then), `Bearer realm="latch", error="invalid_token"`
// when it offered one that authenticates no app session, or the session
// ended during the request. More than one Authorization header
// (session.ErrAuthorizationTwice) is 400 with error="invalid_request". A session that ended during the request (the table's
// "to login" row) is 401, not a redirect.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	a := s.answerOf(err)
	attrs := []any{"route", logRoute(r), "client_ip", clientIP(r), "status", a.status,
		"kind", fail.KindOf(err).String(), "err", err, "api", true}
	if u := currentUser(r.Context()); u != nil {
		attrs = append(attrs, "user_id", u.ID)
	}
	s.log.Log(r.Context(), a.level, a.log, attrs...)
	if a.toLogin {
		a.status = http.StatusUnauthorized
		if a.message == "" {
			a.message = "The session ended while this request ran. Sign in again."
		}
	}
	h := w.Header()
	for _, k := range []string{"Location", "Set-Cookie", "Content-Disposition"} {
		h.Del(k)
	}
	if errors.Is(err, session.ErrAuthorizationTwice) { // RFC 6750 §3.1: invalid_request, 400
		h.Set("WWW-Authenticate", `Bearer realm="latch", error="invalid_request"`)
		a.message, a.args = "This request has more than one Authorization header; send one.", nil
	}
	if a.status == http.StatusUnauthorized {
		challenge := `Bearer realm="latch"`
		if s.sessions.BearerRefused(r.Context()) || a.toLogin || errors.Is(err, session.ErrGone) {
			challenge += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", challenge)
	}
	if a.retryAfter != "" {
		h.Set("Retry-After", a.retryAfter)
	}
	// The table's words are message IDs of the pages' catalogue; the API
	// answers in English (its own words, given with withMessage, are
	// English sentences, which the catalogue leaves as they are).
	p := problem{Type: "about:blank", Title: http.StatusText(a.status), Status: a.status,
		Detail: s.catalog.T(locale.Default, a.message, a.args...)}
	var fields account.FieldErrors
	if errors.As(err, &fields) && (a.status == http.StatusUnprocessableEntity || a.status == http.StatusForbidden) {
		p.Errors = fields
	}
	writeJSON(w, a.status, "application/problem+json", p)
}

// writeJSON writes v as the JSON body of a status response of type ctype.
// Everything the API sends is encoded from its own structs of strings,
// numbers, booleans and times, which cannot fail to encode; a failed
// write means the client went away, and there is nobody left to tell.
func writeJSON(w http.ResponseWriter, status int, ctype string, v any) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// api adapts an API handler that returns its failure (handlerFunc) to
// http.HandlerFunc, answering the failure with apiError.
func (s *Server) api(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.apiError(w, r, err)
		}
	}
}
