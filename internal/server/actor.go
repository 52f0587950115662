package server

import (
	"net/http"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
)

// actor is the principal of r for the account layer (internal/account):
// the channel via, the signed-in user (none for anonymous pages:
// registration, reset links), the request's session handle, and the
// client IP and User-Agent the audit event records.
func (s *Server) actor(r *http.Request, via audit.Via) account.Actor {
	ctx := r.Context()
	a := account.Actor{Via: via, SessionHandle: s.sessions.Handle(ctx), IP: clientIP(r), UserAgent: r.UserAgent()}
	if u := currentUser(ctx); u != nil {
		a.UserID = u.ID
	}
	return a
}
