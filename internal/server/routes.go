package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Handler returns the site's routes. The access policy reads top to bottom:
//
//	every response        hideResetToken (/reset/<token> → /reset/redacted before anything logs) → requestID
//	                      (X-Request-ID) → countRequest (metrics by route pattern) → recoverPanic
//	                      → realIP → logRequest → secureHeaders → rejectBadURL (400 for NUL or invalid UTF-8
//	                      in the path or query) → switchLanguage (?lang=ko: the lang cookie, 303 back
//	                      without it) → GetHead (HEAD answered by GET routes)
//	/healthz, /readyz,    nothing else (no session is ever loaded; /healthz is liveness, /readyz readiness:
//	/static/*             readyz.go)
//	dynamic pages         + crossOrigin (CSRF by Origin/Sec-Fetch-Site) → limitBody (64 KiB; a POST form is read
//	                      whole before the session is loaded; 400 for NUL or invalid UTF-8 in a field) → session
//	                      (loadSession) → noStore
//	signed-in pages       + requireUser (→ /login) → requireCSRFToken on POST
//	/admin/*              + requireAdmin (403 unless the account's current state says admin)
//	sensitive POSTs       + requireRecentAuth (password entered in the last ReauthWindow, else asked for)
//	/api/v1/*             the JSON API's own chain (api.go): bearer tokens only, never the cookie
//	                      session, crossOrigin, CSRF tokens or limitBody
//
// Anonymous requests never create a session; 404 and 405 pages load none.
// Errors become statuses and pages in one table (errors.go: answerOf).
//
// Where five behaviours live (docs/ARCHITECTURE.md walks each, in at most
// two hops from here):
//
//	idle timeout          loadSession → session.Manager.enforce (internal/session/manager.go)
//	CSRF                  crossOrigin, requireCSRFToken (middleware.go) → session.Manager.ValidCSRF
//	per-account throttle  loginCheck → reserveLogin (throttle.go) → throttle.Limiter.ReserveLogin
//	POST /login, Redis    reserveLogin gets throttle.ErrUnavailable (fail closed, before hashing)
//	down                  → errors.go: kindAnswer's fail.Unavailable row: 503 with Retry-After
//	admin kill            adminKillSession → account.Service.RevokeSession (internal/account/sessions.go)
//	                      → session.RedisStore.Revoke (internal/session/redisregistry.go: revokeScript)
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.hideResetToken, s.requestID, s.countRequest(r), s.recoverPanic, s.realIP, s.logRequest, s.secureHeaders, s.rejectBadURL, s.switchLanguage, middleware.GetHead)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) { s.methodNotAllowed(w, req, r) })

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/static/*", s.staticFiles().ServeHTTP)
	r.Route("/api/v1", s.apiRoutes) // the JSON API for apps: its own chain, no cookie, no CSRF (api.go)

	r.Group(func(r chi.Router) {
		r.Use(s.crossOrigin, s.limitBody, s.loadSession, noStore)
		r.Get("/", s.home)
		r.Get("/login", s.loginShow)
		r.Post("/login", s.handle(s.loginCheck))
		r.Get("/register", s.registerShow)
		r.Post("/register", s.handle(s.registerCheck))
		r.Get("/reset/{token}", s.handle(s.resetShow)) // public: the one-time token is the credential
		r.Post("/reset/{token}", s.handle(s.resetCheck))

		r.Group(func(r chi.Router) {
			r.Use(s.requireUser, s.requireCSRFToken)
			r.Get("/profile", s.profileShow)
			r.Post("/profile/time-zone", s.handle(s.timeZoneChange))
			r.Get("/account", s.accountShow)
			r.Post("/logout", s.handle(s.logout))
			r.Get("/sessions", s.handle(s.sessionsShow))
			// Asks for the current password itself: that is the re-authentication.
			r.Get("/account/password", s.passwordShow)
			r.Post("/account/password", s.handle(s.passwordChange))
			r.With(s.requireRecentAuth).Post("/sessions/{handle}/revoke", s.handle(s.sessionRevoke))
			r.With(s.requireRecentAuth).Post("/sessions/revoke-others", s.handle(s.sessionsRevokeOthers))

			r.Route("/admin", func(r chi.Router) {
				r.Use(s.requireAdmin)
				r.Get("/", s.handle(s.adminOverview))
				r.Get("/sessions", s.handle(s.adminSessions))
				r.Get("/users", s.handle(s.adminUsers))
				r.Get("/users/{id}", s.handle(s.adminUser))
				r.Get("/audit", s.handle(s.adminAudit))

				r.Group(func(r chi.Router) {
					r.Use(s.requireRecentAuth)
					r.Post("/sessions/{handle}/kill", s.handle(s.adminKillSession))
					r.Post("/users/{id}/kill-sessions", s.handle(s.adminKillUserSessions))
					r.Post("/users/{id}/disable", s.handle(s.adminDisableUser))
					r.Post("/users/{id}/enable", s.handle(s.adminEnableUser))
					r.Post("/users/{id}/reset-link", s.handle(s.adminResetLink))
				})
			})
		})
	})
	return r
}
