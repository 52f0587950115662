package server

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// The JSON API for native apps (issue 10), a third adapter beside the web
// pages and the CLI over the same layers: internal/account for the
// operations, session.Manager for the sessions (app sessions live in the
// same store and registry: session/bearer.go), the same throttle and the
// same sign-in check (checkLogin), and the same error table (errors.go,
// through api_errors.go). Its access policy, inside the site's common chain
// (routes.go):
//
//	/api/v1/*             apiCORS (only for LATCH_API_CORS_ORIGINS) → apiHeaders (no-store) →
//	                      session.Manager.BearerMiddleware (Authorization: Bearer only; never a cookie)
//	POST /sessions,       public (the sign-in; the document)
//	GET /openapi.json
//	everything else       + apiRequireUser (401 with WWW-Authenticate unless an app session)
//	DELETE /sessions/{h}  + re-authentication within LATCH_REAUTH_WINDOW (POST /reauth), else 403
//
// Not in the chain: crossOrigin and the CSRF token (a bearer token is no
// ambient credential: a browser never attaches it by itself), limitBody's
// form parsing (decodeJSON bounds the body at maxAPIBodyBytes), and the
// cookie session middleware, so a browser cookie never authenticates an
// API request, and a bearer token never authenticates a page (the pages
// read the cookie only). No API response sets a cookie.

// apiRoutes mounts the API on r (at /api/v1).
func (s *Server) apiRoutes(r chi.Router) {
	r.Use(s.apiCORS, apiHeaders, s.sessions.BearerMiddleware)
	r.Get("/openapi.json", s.apiOpenAPI)
	r.Post("/sessions", s.api(s.apiSignIn))
	r.Group(func(r chi.Router) {
		r.Use(s.apiRequireUser)
		r.Get("/me", s.api(s.apiMe))
		r.Get("/sessions", s.api(s.apiSessions))
		r.Delete("/sessions/current", s.api(s.apiSignOut))
		r.Delete("/sessions/{handle}", s.api(s.apiRevoke))
		r.Post("/reauth", s.api(s.apiReauth))
		r.Post("/account/password", s.api(s.apiPasswordChange))
	})
}

// apiHeaders keeps every API response out of caches (RFC 6749 §5.1 asks it
// of token responses; the others hold personal data).
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// apiCORS answers CORS (the Fetch standard's CORS protocol) for the origins
// in LATCH_API_CORS_ORIGINS, matched exactly, and for none when it is
// empty (the default: a browser page on another origin cannot read API
// responses). An allowed origin gets Access-Control-Allow-Origin with
// itself (never "*"), no Allow-Credentials (the API has no cookies to
// send), and a preflight (OPTIONS with Access-Control-Request-Method) is
// answered 204 allowing the API's methods and the Authorization and
// Content-Type headers. A preflight from another origin gets 204 without
// those headers, so the browser refuses the request.
func (s *Server) apiCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(s.corsOrigins, origin)
		h := w.Header()
		if len(s.corsOrigins) > 0 {
			h.Add("Vary", "Origin")
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, Location")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiRequireUser lets only requests of a live app session through, with
// the account's current state checked as requireUser checks a page's
// (principal: a disabled or deleted account, or a session older than the
// account's credentials, ends the session here). Anything else is 401
// (session.ErrNoBearer) with WWW-Authenticate.
func (s *Server) apiRequireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if s.sessions.UserID(ctx) == 0 {
			s.apiError(w, r, withMessage(errNoBearer, s.noBearerMessage(r)))
			return
		}
		u, ended, _, err := s.principal(r)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		if ended {
			s.apiError(w, r, withMessage(errBearerEnded, "This session has ended. Sign in again."))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, userKey{}, u)))
	})
}

// noBearerMessage says why an API request is not authenticated.
func (s *Server) noBearerMessage(r *http.Request) string {
	switch {
	case s.sessions.BearerRefused(r.Context()):
		return "The bearer token is not valid: it is malformed, or its session has expired or was ended. Sign in again."
	case strings.TrimSpace(r.Header.Get("Authorization")) == "":
		return "This request needs a bearer token: sign in with POST /api/v1/sessions and send Authorization: Bearer <token>."
	}
	return "This API accepts only bearer tokens: send Authorization: Bearer <token> (sign in with POST /api/v1/sessions)."
}

// API words for the router's 404 and 405 (notFound, methodNotAllowed),
// which on the pages speak of pages.
const (
	apiNotFoundMessage = "No such API endpoint."
	apiMethodMessage   = "This endpoint does not accept that method."
)
