package server

import "net/http"

// apiOpenAPI serves the API's OpenAPI 3.1 document (Config.OpenAPI, kept
// in the repository as web/openapi.json and checked against the routes by
// TestAPIOpenAPIMatchesRoutes).
func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	if len(s.openAPI) == 0 {
		s.apiError(w, r, errNoPage)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openAPI)
}
