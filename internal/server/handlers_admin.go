package server

import (
	"context"
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

// filterAccount is the ID of the account an admin list is filtered by
// (its ?email= or ?user=), 0 when email is "" (no filter). Errors:
// user.ErrNotFound when no account has this address; the store's.
func (s *Server) filterAccount(ctx context.Context, email string) (int64, error) {
	if email == "" {
		return 0, nil
	}
	u, err := s.users.UserByEmail(ctx, email)
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// adminSessions lists every active session, newest activity first, 50 a
// page, optionally only one account's (?email=) or one IP's (?ip=). The
// whole list pages with cursors (?after= / ?before=, with ?page=N for the
// page's number: sessions_pager.go), a filtered one by ?page=N alone.
// Errors: errBadPage, errBadCursor (400), errPastLastPage (404), the
// registry's and the user store's.
func (s *Server) adminSessions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "admin.sessions.title")
	data.Wide = true
	data.Filter = filterView{Email: queryText(q, "email", 254), IP: queryText(q, "ip", 64)}

	after, before, err := parseSessionCursor(r)
	if err != nil {
		return err
	}
	query := session.Query{Offset: (page - 1) * perPage, Limit: perPage, CountLimit: countLimit}
	if data.Filter.IP != "" {
		addr, err := netip.ParseAddr(data.Filter.IP)
		if err != nil {
			data.FieldErrors = map[string]string{"ip": s.t(r, "admin.ip_invalid")}
			s.render(w, r, s.statusOf(errFilter), "admin_sessions", data)
			return nil
		}
		query.IP = addr.String()
	}
	if query.UserID, err = s.filterAccount(ctx, data.Filter.Email); errors.Is(err, user.ErrNotFound) {
		data.Notice = s.t(r, noAccount) // an empty list, not an error
		s.render(w, r, http.StatusOK, "admin_sessions", data)
		return nil
	} else if err != nil {
		return err
	}
	cursors := query.UserID == 0 && query.IP == "" // a filtered list is short: it pages by ?page= alone
	if cursors && (after != nil || before != nil) {
		// From a cursor: no offset; the count reaches as far past the
		// page's start as by offset (newPager's bound).
		query.Offset, query.After, query.Before = 0, after, before
		query.CountLimit = (page-1)*perPage + countLimit
	}
	res, err := s.sessions.Registry().Sessions(ctx, query)
	if err != nil {
		return err
	}
	if query.Before != nil && len(res.Records) < perPage {
		// Fewer than a page before the cursor (sessions ended or moved up
		// since): the previous page is the first.
		http.Redirect(w, r, cursorURL(r, 1, "", session.Cursor{}), http.StatusSeeOther)
		return nil
	}
	if data.Pager, err = newPager(r, page, res.Total, true); err != nil {
		return err
	}
	if cursors {
		data.Pager = withCursorLinks(r, data.Pager, page, res.Records)
	}
	ids := make([]int64, 0, len(res.Records))
	for _, rec := range res.Records {
		ids = append(ids, rec.UserID)
	}
	users, err := s.userRefs(ctx, ids...)
	if err != nil {
		return err
	}
	data.Sessions = s.sessionRows(res.Records, s.sessions.Handle(ctx), users)
	s.render(w, r, http.StatusOK, "admin_sessions", data)
	return nil
}

// adminUsers lists accounts, 50 a page, optionally those whose email
// contains ?q=.
func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	data := s.newTemplateData(w, r)
	data.Title = s.t(r, "admin.users.title")
	data.Wide = true
	data.Filter = filterView{Q: queryText(r.URL.Query(), "q", 254)}
	users, total, err := s.users.Users(r.Context(), data.Filter.Q, (page-1)*perPage, perPage)
	if err != nil {
		return err
	}
	if data.Pager, err = newPager(r, page, total, false); err != nil {
		return err
	}
	data.Users = users
	s.render(w, r, http.StatusOK, "admin_users", data)
	return nil
}

// adminUserEvents is how many recent events the account page shows.
const adminUserEvents = 20

// adminUser shows one account: its details, its active sessions and its
// recent security events, with the admin actions.
func (s *Server) adminUser(w http.ResponseWriter, r *http.Request) error {
	subject, err := s.accountParam(r)
	if err != nil {
		return err
	}
	return s.renderAdminUser(w, r, subject, nil)
}

// renderAdminUser shows account subject's page; resetLink, when not nil, is
// a reset link just made for it (adminResetLink), shown this once. On an
// error nothing has been written.
func (s *Server) renderAdminUser(w http.ResponseWriter, r *http.Request, subject *user.User, resetLink *resetLinkView) error {
	ctx := r.Context()
	recs, err := s.sessions.Registry().UserSessions(ctx, subject.ID)
	if err != nil {
		return err
	}
	events, _, err := s.audit.AuditEvents(ctx, audit.Filter{UserID: subject.ID, Limit: adminUserEvents, NoTotal: true})
	if err != nil {
		return err
	}
	ids := []int64{subject.ID}
	for _, e := range events {
		ids = append(ids, e.ActorID, e.SubjectID)
	}
	users, err := s.userRefs(ctx, ids...)
	if err != nil {
		return err
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
	return nil
}

// adminAudit lists security events, newest first, 50 a page, filtered by
// account (?user=email), type (?type=), and date range (?from=, ?to=, as
// YYYY-MM-DD in UTC, both days included).
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	page, err := parsePage(r)
	if err != nil {
		return err
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
		s.render(w, r, s.statusOf(errFilter), "admin_audit", data)
		return nil
	}
	if f.UserID, err = s.filterAccount(ctx, data.Filter.User); errors.Is(err, user.ErrNotFound) {
		data.Notice = s.t(r, noAccount) // an empty list, not an error
		s.render(w, r, http.StatusOK, "admin_audit", data)
		return nil
	} else if err != nil {
		return err
	}
	events, total, err := s.audit.AuditEvents(ctx, f)
	if err != nil {
		return err
	}
	if data.Pager, err = newPager(r, page, total, true); err != nil {
		return err
	}
	ids := make([]int64, 0, 2*len(events))
	for _, e := range events {
		ids = append(ids, e.ActorID, e.SubjectID)
	}
	users, err := s.userRefs(ctx, ids...)
	if err != nil {
		return err
	}
	data.Events = s.eventRows(events, users)
	s.render(w, r, http.StatusOK, "admin_audit", data)
	return nil
}

// adminKillSession ends one session by handle (POST
// /admin/sessions/{handle}/kill) through account.Service.RevokeSession.
// The admin's own current session is refused (Log out ends it); an unknown
// handle is 404.
func (s *Server) adminKillSession(w http.ResponseWriter, r *http.Request) error {
	handle := chi.URLParam(r, "handle")
	if !session.ValidHandle(handle) {
		return noSuchSession(account.ErrNoSession)
	}
	_, _, err := s.accounts.RevokeSession(r.Context(), s.actor(r, audit.ViaAdmin), handle, 0)
	switch {
	case errors.Is(err, account.ErrCurrentSession):
		return withMessage(err, "admin.session_current")
	case errors.Is(err, account.ErrNoSession):
		return noSuchSession(err)
	case err != nil:
		return err
	}
	s.setFlash(w, flashSessionKilled)
	http.Redirect(w, r, adminReturn(r, "/admin/sessions"), http.StatusSeeOther)
	return nil
}

// adminKillUserSessions ends every session of an account (POST
// /admin/users/{id}/kill-sessions; account.Service.RevokeAll); on the
// admin's own account, every one except the current session.
func (s *Server) adminKillUserSessions(w http.ResponseWriter, r *http.Request) error {
	subject, err := s.accountParam(r)
	if err != nil {
		return err
	}
	_, keptOwn, _, err := s.accounts.RevokeAll(r.Context(), s.actor(r, audit.ViaAdmin), subject.ID)
	if err != nil {
		return err
	}
	if keptOwn {
		return s.adminDone(w, r, subject, flashOwnOthersKilled)
	}
	return s.adminDone(w, r, subject, flashUserKilled)
}

// adminDisableUser disables an account and ends all its sessions (POST
// /admin/users/{id}/disable; account.Service.Disable). An admin cannot
// disable their own account. The login handler refuses disabled accounts,
// and requireUser ends any session of one at its next request, so the
// account is locked out even if ending the sessions fails (503; the admin
// may try again).
func (s *Server) adminDisableUser(w http.ResponseWriter, r *http.Request) error {
	subject, err := s.accountParam(r)
	if err != nil {
		return err
	}
	_, err = s.accounts.Disable(r.Context(), s.actor(r, audit.ViaAdmin), subject)
	switch {
	case errors.Is(err, account.ErrOwnAccount):
		return withMessage(err, "admin.disable_self")
	case errors.Is(err, user.ErrNotFound):
		return noSuchAccount(err)
	case err != nil:
		return err
	}
	return s.adminDone(w, r, subject, flashAccountDisabled)
}

// adminEnableUser enables a disabled account (POST /admin/users/{id}/enable;
// account.Service.Enable).
func (s *Server) adminEnableUser(w http.ResponseWriter, r *http.Request) error {
	subject, err := s.accountParam(r)
	if err != nil {
		return err
	}
	_, err = s.accounts.Enable(r.Context(), s.actor(r, audit.ViaAdmin), subject)
	if errors.Is(err, user.ErrNotFound) {
		return noSuchAccount(err)
	}
	if err != nil {
		return err
	}
	return s.adminDone(w, r, subject, flashAccountEnabled)
}

// adminDone ends an admin action on account subject that succeeded: it
// sets flash and sends the admin back (303) to the page the form was on,
// else to the account's page (adminReturn). It returns nil.
func (s *Server) adminDone(w http.ResponseWriter, r *http.Request, subject *user.User, flash flashCode) error {
	s.setFlash(w, flash)
	http.Redirect(w, r, adminReturn(r, userPath(subject.ID)), http.StatusSeeOther)
	return nil
}

// accountParam loads the account named by the {id} URL segment. Errors:
// errNoAccount for a malformed id and user.ErrNotFound for an unknown one
// (404, with noSuchAccount's words); the store's errors.
func (s *Server) accountParam(r *http.Request) (*user.User, error) {
	id, ok := parseID(chi.URLParam(r, "id"))
	if !ok {
		return nil, noSuchAccount(errNoAccount)
	}
	u, err := s.users.UserByID(r.Context(), id)
	if errors.Is(err, user.ErrNotFound) {
		return nil, noSuchAccount(err)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// noSuchAccount is err (of kind fail.NotFound: 404) with the words of the
// page for an account number that names no account.
func noSuchAccount(err error) error {
	return withMessage(err, "admin.user_not_found")
}

// noSuchSession is err (of kind fail.NotFound: 404) with the words of the
// admin page for a session handle that names no active session.
func noSuchSession(err error) error {
	return withMessage(err, "admin.session_not_found")
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
