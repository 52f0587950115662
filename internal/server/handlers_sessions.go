package server

import (
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
)

// sessionsShow lists the signed-in user's active sessions ("Your devices"),
// newest activity first, the current one marked "This device".
func (s *Server) sessionsShow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := currentUser(ctx)
	recs, err := s.sessions.Registry().UserSessions(ctx, u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	data := s.newTemplateData(w, r)
	data.Title = "Your devices"
	data.Sessions = s.sessionRows(recs, s.sessions.Handle(ctx), nil)
	s.render(w, r, http.StatusOK, "sessions", data)
}

// sessionRevoke ends one other session of the signed-in user (POST
// /sessions/{handle}/revoke; re-authentication required). A handle that
// is not one of the user's active sessions is 404, whoever owns it; the
// current session is refused (Log out ends it). Audited as SessionRevoked.
func (s *Server) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := currentUser(ctx)
	handle := chi.URLParam(r, "handle")
	notYours := func() {
		s.clientError(w, r, http.StatusNotFound,
			"None of your active sessions has this name. It may have ended already; reload Your devices to see the current list.")
	}
	if !session.ValidHandle(handle) {
		notYours()
		return
	}
	if handle == s.sessions.Handle(ctx) {
		s.clientError(w, r, http.StatusBadRequest,
			"This is the session you are using now. To end it, use Log out.")
		return
	}
	recs, err := s.sessions.Registry().UserSessions(ctx, u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !slices.ContainsFunc(recs, func(rec session.Record) bool { return rec.Handle == handle }) {
		notYours()
		return
	}
	rec, found, err := s.sessions.Registry().Revoke(ctx, handle)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !found {
		notYours()
		return
	}
	s.metrics.SessionsRevoked(RevokeUser, 1)
	s.log.Info("session revoked", "user_id", u.ID, "session_handle", handle, "via", "self", "client_ip", clientIP(r))
	s.record(r, audit.Event{Type: audit.SessionRevoked, Via: audit.ViaSelf, ActorID: u.ID, SubjectID: u.ID,
		SessionHandle: handle, Detail: s.sessionDetail(rec)})
	s.setFlash(w, flashSessionRevoked)
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// sessionsRevokeOthers ends every session of the signed-in user except the
// current one (POST /sessions/revoke-others; re-authentication required).
// Audited as SessionsRevoked with the count.
func (s *Server) sessionsRevokeOthers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := currentUser(ctx)
	current := s.sessions.Handle(ctx)
	ended, err := s.sessions.Registry().RevokeUser(ctx, u.ID, current)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.metrics.SessionsRevoked(RevokeUser, len(ended))
	s.log.Info("sessions revoked", "user_id", u.ID, "count", len(ended), "via", "self", "client_ip", clientIP(r))
	s.record(r, audit.Event{Type: audit.SessionsRevoked, Via: audit.ViaSelf, ActorID: u.ID, SubjectID: u.ID,
		SessionHandle: current, Detail: countSessions(len(ended)) + " ended, all but the current one"})
	if len(ended) == 0 {
		s.setFlash(w, flashNoOthers)
	} else {
		s.setFlash(w, flashOthersRevoked)
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// sessionDetail describes an ended session for the audit log:
// "Firefox 128 on Linux, 203.0.113.7".
func (s *Server) sessionDetail(rec session.Record) string {
	d := s.device(rec.UserAgent)
	if rec.IP != "" {
		d += ", " + rec.IP
	}
	return d
}
