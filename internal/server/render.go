package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/latch/latch/internal/user"
	"github.com/latch/latch/web"
)

// templateData is what every page template receives.
type templateData struct {
	Title       string
	CSRFToken   string     // per-session synchronizer token; "" when anonymous
	User        *user.User // the principal, nil when anonymous
	Flash       string
	Form        formData
	FieldErrors map[string]string // keys "email", "name", "password"
	FormError   string
	Next        string
	Session     sessionView
	Status      int
	Message     string

	Wide       bool         // the page holds wide tables (admin): a wider layout
	Here       string       // this page's path and query, for forms that come back to it
	Notice     string       // a page-level note, e.g. "No account has this email address."
	Sessions   []sessionRow // /sessions and the admin session lists
	Users      []user.User  // /admin/users
	Subject    *user.User   // /admin/users/{id}: the account shown
	Events     []eventRow   // security activity (profile, admin)
	Pager      pager        // paginated lists
	Filter     filterView   // the filter form of an admin list, as typed
	EventTypes []option     // the event-type select of /admin/audit
	Reauth     reauthView   // the "Confirm your password" page

	NewDevice *deviceNotice // "New sign-in from …" for another session's new-device sign-in; nil when none
	SignIns   signInsView   // profile: last successful and failed sign-ins

	PasswordChanged bool           // /account/password: the change was made
	Ended           []sessionRow   // /account/password: the sessions the change ended
	Reset           resetView      // /reset/{token}
	ResetLink       *resetLinkView // /admin/users/{id}: a reset link made just now, shown once; nil otherwise
	Overview        *overviewView  // /admin: the counts at a glance (handlers_overview.go)
}

// formData re-fills a form after an error; it never holds a password.
type formData struct {
	Email    string
	Name     string
	Remember bool
}

// sessionView is the profile page's description of the current session.
type sessionView struct {
	Created          time.Time
	AbsoluteDeadline time.Time
	IdleDeadline     time.Time
	Remember         bool
}

// parsePages parses base.html + partials/*.html + pages/NAME.html for each
// page; the result is keyed by NAME without extension.
func parsePages(fsys fs.FS) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("templates: no pages found")
	}
	pages := make(map[string]*template.Template, len(names))
	for _, name := range names {
		t, err := template.New("base").Funcs(web.Funcs()).ParseFS(fsys, "base.html", "partials/*.html", name)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		pages[path.Base(name[:len(name)-len(".html")])] = t
	}
	return pages, nil
}

// newTemplateData fills the fields every page needs from the request.
func (s *Server) newTemplateData(w http.ResponseWriter, r *http.Request) templateData {
	ctx := r.Context()
	return templateData{
		CSRFToken: s.sessions.CSRFToken(ctx),
		User:      currentUser(ctx),
		Flash:     s.popFlash(w, r),
		Here:      r.URL.RequestURI(),
		NewDevice: s.newDeviceNotice(r),
	}
}

// render executes page into a buffer first, so a template error becomes a
// clean 500 rather than half a page, then writes status and body.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data templateData) {
	t, ok := s.pages[page]
	if !ok {
		s.serverError(w, r, fmt.Errorf("render: no page %q", page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", data); err != nil {
		s.serverError(w, r, fmt.Errorf("render %s: %w", page, err))
		return
	}
	if data.NewDevice != nil {
		// Shown: once per session (written when the response starts, below).
		s.sessions.MarkNoticeSeen(r.Context(), data.NewDevice.Time)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderError writes the error page; if even that fails it falls back to
// plain text.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	data := templateData{Title: http.StatusText(status), Status: status, Message: msg,
		User: currentUser(r.Context()), CSRFToken: s.sessions.CSRFToken(r.Context())}
	var buf bytes.Buffer
	if t, ok := s.pages["error"]; ok && t.ExecuteTemplate(&buf, "base", data) == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(status)
		_, _ = buf.WriteTo(w)
		return
	}
	http.Error(w, msg, status)
}
