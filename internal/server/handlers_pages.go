package server

import (
	"io/fs"
	"net/http"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
)

// home sends signed-in users to their profile and everyone else to login.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if s.sessions.UserID(r.Context()) != 0 {
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// profileActivity is how many recent security events the profile shows.
const profileActivity = 10

// profileShow shows the signed-in user, the current session's deadlines,
// the last successful sign-in (other than this session's) and the last
// failed one, and the user's recent security activity (events where they
// are the actor or the subject: "was this you?"; what others did to the
// account without their IP and device: ownEventRows). If the activity
// cannot be read the rest of the page is still shown.
func (s *Server) profileShow(w http.ResponseWriter, r *http.Request) {
	s.renderProfile(w, r, http.StatusOK, nil)
}

// renderProfile renders the profile at status, with the time zone form's
// errors fieldErrors (nil for none).
func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, status int, fieldErrors map[string]string) {
	ctx := r.Context()
	info, _ := s.sessions.Info(ctx)
	data := s.newTemplateData(w, r)
	signIns, err := s.lastSignIns(ctx, currentUser(ctx).ID, s.sessions.Handle(ctx))
	if err != nil {
		s.log.ErrorContext(r.Context(), "profile sign-ins unavailable", "user_id", currentUser(ctx).ID, "err", err)
	}
	data.SignIns = signIns
	events, _, err := s.audit.AuditEvents(ctx, audit.Filter{UserID: currentUser(ctx).ID, Limit: profileActivity, NoTotal: true})
	if err != nil {
		s.log.ErrorContext(r.Context(), "profile activity unavailable", "user_id", currentUser(ctx).ID, "err", err)
		data.Notice = s.t(r, "profile.activity_unavailable")
	}
	data.Events = s.ownEventRows(events, currentUser(ctx))
	data.Title = s.t(r, "profile.title")
	data.Session = sessionViewOf(info)
	data.TimeZones, data.AutoZone = s.zoneOptions(r)
	data.FieldErrors = fieldErrors
	s.render(w, r, status, "profile", data)
}

// accountShow shows "Your account" (GET /account): the signed-in user's
// email, name and role, this session's sign-in time and deadlines, and
// links to the profile, devices and password pages. Everything on it comes
// from the session and the principal (requireUser), so on Redis it costs
// one Redis command and no SQL: the light page of issue 7's benchmark.
func (s *Server) accountShow(w http.ResponseWriter, r *http.Request) {
	info, _ := s.sessions.Info(r.Context())
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "account.title")
	data.Session = sessionViewOf(info)
	s.render(w, r, http.StatusOK, "account", data)
}

// sessionViewOf is the current session as the profile and account pages
// show it (partials/session.html).
func sessionViewOf(info session.Info) sessionView {
	return sessionView{
		Created:          info.Created,
		AbsoluteDeadline: info.AbsoluteDeadline,
		IdleDeadline:     info.IdleDeadline,
		Remember:         info.Remember,
	}
}

// staticFiles serves web/static under /static/ without directory listings.
func (s *Server) staticFiles() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(s.static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[len("/static/"):]
		if name == "" || name[len(name)-1] == '/' {
			s.notFound(w, r)
			return
		}
		if st, err := fs.Stat(s.static, name); err != nil || st.IsDir() {
			s.notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
