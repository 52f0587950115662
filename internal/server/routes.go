package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Handler returns the site's routes. The access policy reads top to bottom:
//
//	every response        recoverPanic → logRequest → secureHeaders
//	/healthz, /static/*   nothing else (no session is ever loaded)
//	dynamic pages         + crossOrigin (CSRF by Origin/Sec-Fetch-Site) → limitBody → session → noStore
//	signed-in pages       + requireUser (→ /login) → requireCSRFToken on POST
//
// Anonymous requests never create a session; 404 and 405 pages load none.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverPanic, s.logRequest, s.secureHeaders)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.Get("/healthz", s.healthz)
	r.Handle("/static/*", s.staticFiles())

	r.Group(func(r chi.Router) {
		r.Use(s.crossOrigin, s.limitBody, s.sessions.Middleware, noStore)
		r.Get("/", s.home)
		r.Get("/login", s.loginShow)
		r.Post("/login", s.loginCheck)
		r.Get("/register", s.registerShow)
		r.Post("/register", s.registerCheck)

		r.Group(func(r chi.Router) {
			r.Use(s.requireUser, s.requireCSRFToken)
			r.Get("/profile", s.profileShow)
			r.Post("/logout", s.logout)
		})
	})
	return r
}
