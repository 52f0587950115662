package server

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
)

// sessionsShow lists the signed-in user's active sessions ("Your devices"),
// newest activity first, the current one marked "This device".
func (s *Server) sessionsShow(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	u := currentUser(ctx)
	recs, err := s.sessions.Registry().UserSessions(ctx, u.ID)
	if err != nil {
		return err
	}
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "nav.devices")
	data.Sessions = s.sessionRows(recs, s.sessions.Handle(ctx), nil)
	s.render(w, r, http.StatusOK, "sessions", data)
	return nil
}

// sessionRevoke ends one other session of the signed-in user (POST
// /sessions/{handle}/revoke; re-authentication required;
// account.Service.RevokeSession restricted to the user's own sessions). A
// handle that is not one of the user's active sessions is 404, whoever
// owns it; the current session is refused (Log out ends it). Audited as
// SessionRevoked.
func (s *Server) sessionRevoke(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r.Context())
	handle := chi.URLParam(r, "handle")
	if !session.ValidHandle(handle) {
		return notYourSession(account.ErrNoSession)
	}
	_, _, err := s.accounts.RevokeSession(r.Context(), s.actor(r, audit.ViaSelf), handle, u.ID)
	switch {
	case errors.Is(err, account.ErrCurrentSession):
		return withMessage(err, "devices.current")
	case errors.Is(err, account.ErrNoSession):
		return notYourSession(err)
	case err != nil:
		return err
	}
	s.setFlash(w, flashSessionRevoked)
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
	return nil
}

// sessionsRevokeOthers ends every session of the signed-in user except the
// current one (POST /sessions/revoke-others; re-authentication required;
// account.Service.RevokeOthers). Audited as SessionsRevoked with the count.
func (s *Server) sessionsRevokeOthers(w http.ResponseWriter, r *http.Request) error {
	ended, _, err := s.accounts.RevokeOthers(r.Context(), s.actor(r, audit.ViaSelf))
	if err != nil {
		return err
	}
	if len(ended) == 0 {
		s.setFlash(w, flashNoOthers)
	} else {
		s.setFlash(w, flashOthersRevoked)
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
	return nil
}

// notYourSession is err (of kind fail.NotFound: 404) with the words of the
// page for a handle that is not one of the person's active sessions.
func notYourSession(err error) error {
	return withMessage(err, "devices.not_found")
}
