package server

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// The admin pages: every route here runs behind requireUser → requireCSRFToken
// → requireAdmin, and every POST also behind requireRecentAuth (routes.go).
// Actions are carried out by internal/account (one place for each
// operation, shared with the CLI), with Via admin, the admin as actor and
// the account acted on as subject.

// noAccount is the note (message ID) shown when an email filter names no
// account.
const noAccount = "admin.no_account"

// adminSessions lists every active session, newest activity first, 50 a
// page (?page=N), optionally only one account's (?email=) or one IP's (?ip=).
func (s *Server) adminSessions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	page, ok := s.parsePage(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "admin.sessions.title")
	data.Wide = true
	data.Filter = filterView{Email: queryText(q, "email", 254), IP: queryText(q, "ip", 64)}

	query := session.Query{Offset: (page - 1) * perPage, Limit: perPage, CountLimit: countLimit}
	if data.Filter.IP != "" {
		addr, err := netip.ParseAddr(data.Filter.IP)
		if err != nil {
			data.FieldErrors = map[string]string{"ip": s.t(r, "admin.ip_invalid")}
			s.render(w, r, http.StatusBadRequest, "admin_sessions", data)
			return
		}
		query.IP = addr.String()
	}
	if data.Filter.Email != "" {
		u, err := s.users.UserByEmail(ctx, data.Filter.Email)
		if errors.Is(err, user.ErrNotFound) {
			data.Notice = s.t(r, noAccount)
			s.render(w, r, http.StatusOK, "admin_sessions", data)
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		query.UserID = u.ID
	}
	res, err := s.sessions.Registry().Sessions(ctx, query)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if data.Pager, ok = s.newPager(w, r, page, res.Total, true); !ok {
		return
	}
	ids := make([]int64, 0, len(res.Records))
	for _, rec := range res.Records {
		ids = append(ids, rec.UserID)
	}
	users, err := s.userRefs(ctx, ids...)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	data.Sessions = s.sessionRows(res.Records, s.sessions.Handle(ctx), users)
	s.render(w, r, http.StatusOK, "admin_sessions", data)
}

// adminUsers lists accounts, 50 a page, optionally those whose email
// contains ?q=.
func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) {
	page, ok := s.parsePage(w, r)
	if !ok {
		return
	}
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "admin.users.title")
	data.Wide = true
	data.Filter = filterView{Q: queryText(r.URL.Query(), "q", 254)}
	users, total, err := s.users.Users(r.Context(), data.Filter.Q, (page-1)*perPage, perPage)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if data.Pager, ok = s.newPager(w, r, page, total, false); !ok {
		return
	}
	data.Users = users
	s.render(w, r, http.StatusOK, "admin_users", data)
}

// adminUserEvents is how many recent events the account page shows.
const adminUserEvents = 20

// adminUser shows one account: its details, its active sessions and its
// recent security events, with the admin actions.
func (s *Server) adminUser(w http.ResponseWriter, r *http.Request) {
	subject, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	s.renderAdminUser(w, r, subject, nil)
}

// renderAdminUser shows account subject's page; resetLink, when not nil, is
// a reset link just made for it (adminResetLink), shown this once.
func (s *Server) renderAdminUser(w http.ResponseWriter, r *http.Request, subject *user.User, resetLink *resetLinkView) {
	ctx := r.Context()
	recs, err := s.sessions.Registry().UserSessions(ctx, subject.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	events, _, err := s.audit.AuditEvents(ctx, audit.Filter{UserID: subject.ID, Limit: adminUserEvents, NoTotal: true})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	ids := []int64{subject.ID}
	for _, e := range events {
		ids = append(ids, e.ActorID, e.SubjectID)
	}
	users, err := s.userRefs(ctx, ids...)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "admin.user.title_of", "Email", subject.Email)
	data.Wide = true
	data.Subject = subject
	data.Sessions = s.sessionRows(recs, s.sessions.Handle(ctx), users)
	data.Events = s.eventRows(events, users)
	data.ResetLink = resetLink
	data.Here = userPath(subject.ID) // forms come back here, also after adminResetLink answered a POST
	s.render(w, r, http.StatusOK, "admin_user", data)
}

// adminAudit lists security events, newest first, 50 a page, filtered by
// account (?user=email), type (?type=), and date range (?from=, ?to=, as
// YYYY-MM-DD in UTC, both days included).
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	page, ok := s.parsePage(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "admin.audit.title")
	data.Wide = true
	data.Filter = filterView{
		User: queryText(q, "user", 254), Type: queryText(q, "type", 64),
		From: queryText(q, "from", 32), To: queryText(q, "to", 32),
	}
	data.EventTypes = eventTypeOptions(data.Filter.Type)

	f := audit.Filter{Offset: (page - 1) * perPage, Limit: perPage, CountLimit: countLimit}
	errs := map[string]string{}
	if t := data.Filter.Type; t != "" {
		if knownEventType(t) {
			f.Type = audit.Type(t)
		} else {
			errs["type"] = s.t(r, "admin.type_invalid")
		}
	}
	if v := data.Filter.From; v != "" {
		if d, err := time.Parse(time.DateOnly, v); err != nil {
			errs["from"] = s.t(r, "admin.date_invalid")
		} else {
			f.Since = d
		}
	}
	if v := data.Filter.To; v != "" {
		if d, err := time.Parse(time.DateOnly, v); err != nil {
			errs["to"] = s.t(r, "admin.date_invalid")
		} else {
			f.Until = d.AddDate(0, 0, 1) // the whole day
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs["to"] = s.t(r, "admin.dates_reversed")
	}
	if len(errs) > 0 {
		data.FieldErrors = errs
		s.render(w, r, http.StatusBadRequest, "admin_audit", data)
		return
	}
	if data.Filter.User != "" {
		u, err := s.users.UserByEmail(ctx, data.Filter.User)
		if errors.Is(err, user.ErrNotFound) {
			data.Notice = s.t(r, noAccount)
			s.render(w, r, http.StatusOK, "admin_audit", data)
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		f.UserID = u.ID
	}
	events, total, err := s.audit.AuditEvents(ctx, f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if data.Pager, ok = s.newPager(w, r, page, total, true); !ok {
		return
	}
	ids := make([]int64, 0, 2*len(events))
	for _, e := range events {
		ids = append(ids, e.ActorID, e.SubjectID)
	}
	users, err := s.userRefs(ctx, ids...)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	data.Events = s.eventRows(events, users)
	s.render(w, r, http.StatusOK, "admin_audit", data)
}

// adminKillSession ends one session by handle (POST
// /admin/sessions/{handle}/kill) through account.Service.RevokeSession.
// The admin's own current session is refused (Log out ends it); an unknown
// handle is 404.
func (s *Server) adminKillSession(w http.ResponseWriter, r *http.Request) error {
	handle := chi.URLParam(r, "handle")
	gone := func() {
		s.clientError(w, r, http.StatusNotFound,
			"admin.session_not_found")
	}
	if !session.ValidHandle(handle) {
		gone()
		return nil
	}
	_, _, err := s.accounts.RevokeSession(r.Context(), s.actor(r, audit.ViaAdmin), handle, 0)
	switch {
	case errors.Is(err, account.ErrCurrentSession):
		s.clientError(w, r, http.StatusBadRequest,
			"admin.session_current")
		return nil
	case errors.Is(err, account.ErrNoSession):
		gone()
		return nil
	case err != nil:
		return err
	}
	s.metrics.SessionsRevoked(RevokeAdmin, 1)
	s.setFlash(w, flashSessionKilled)
	http.Redirect(w, r, adminReturn(r, "/admin/sessions"), http.StatusSeeOther)
	return nil
}

// adminKillUserSessions ends every session of an account (POST
// /admin/users/{id}/kill-sessions; account.Service.RevokeAll); on the
// admin's own account, every one except the current session.
func (s *Server) adminKillUserSessions(w http.ResponseWriter, r *http.Request) error {
	subject, ok := s.accountParam(w, r)
	if !ok {
		return nil
	}
	ended, keptOwn, _, err := s.accounts.RevokeAll(r.Context(), s.actor(r, audit.ViaAdmin), subject.ID)
	if err != nil {
		return err
	}
	s.metrics.SessionsRevoked(RevokeAdmin, len(ended))
	if keptOwn {
		s.setFlash(w, flashOwnOthersKilled)
	} else {
		s.setFlash(w, flashUserKilled)
	}
	http.Redirect(w, r, adminReturn(r, userPath(subject.ID)), http.StatusSeeOther)
	return nil
}

// adminDisableUser disables an account and ends all its sessions (POST
// /admin/users/{id}/disable; account.Service.Disable). An admin cannot
// disable their own account. The login handler refuses disabled accounts,
// and requireUser ends any session of one at its next request, so the
// account is locked out even if ending the sessions fails (503; the admin
// may try again).
func (s *Server) adminDisableUser(w http.ResponseWriter, r *http.Request) error {
	subject, ok := s.accountParam(w, r)
	if !ok {
		return nil
	}
	changed, err := s.accounts.Disable(r.Context(), s.actor(r, audit.ViaAdmin), subject)
	s.metrics.SessionsRevoked(RevokeDisabled, len(changed.Ended))
	switch {
	case errors.Is(err, account.ErrOwnAccount):
		s.clientError(w, r, http.StatusBadRequest,
			"admin.disable_self")
		return nil
	case errors.Is(err, user.ErrNotFound):
		s.noSuchAccount(w, r)
		return nil
	case err != nil:
		return err
	}
	s.setFlash(w, flashAccountDisabled)
	http.Redirect(w, r, adminReturn(r, userPath(subject.ID)), http.StatusSeeOther)
	return nil
}

// adminEnableUser enables a disabled account (POST /admin/users/{id}/enable;
// account.Service.Enable).
func (s *Server) adminEnableUser(w http.ResponseWriter, r *http.Request) error {
	subject, ok := s.accountParam(w, r)
	if !ok {
		return nil
	}
	_, err := s.accounts.Enable(r.Context(), s.actor(r, audit.ViaAdmin), subject)
	if errors.Is(err, user.ErrNotFound) {
		s.noSuchAccount(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	s.setFlash(w, flashAccountEnabled)
	http.Redirect(w, r, adminReturn(r, userPath(subject.ID)), http.StatusSeeOther)
	return nil
}

// accountParam loads the account named by the {id} URL segment; a
// malformed or unknown id answers 404.
func (s *Server) accountParam(w http.ResponseWriter, r *http.Request) (*user.User, bool) {
	id, ok := parseID(chi.URLParam(r, "id"))
	if !ok {
		s.noSuchAccount(w, r)
		return nil, false
	}
	u, err := s.users.UserByID(r.Context(), id)
	if errors.Is(err, user.ErrNotFound) {
		s.noSuchAccount(w, r)
		return nil, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return nil, false
	}
	return u, true
}

func (s *Server) noSuchAccount(w http.ResponseWriter, r *http.Request) {
	s.clientError(w, r, http.StatusNotFound, "admin.user_not_found")
}

func userPath(id int64) string { return "/admin/users/" + strconv.FormatInt(id, 10) }

// adminReturn is where an admin action goes afterwards: the admin page the
// form was on (its next field), else fallback.
func adminReturn(r *http.Request, fallback string) string {
	if next := localPath(r.PostForm.Get("next")); strings.HasPrefix(next, "/admin/") {
		return next
	}
	return fallback
}
