package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latch/latch/internal/locale"
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

	TimeZones []option // profile: the time zone select (Value "" is "from my browser's language")
	AutoZone  string   // profile: the zone the browser's language gives, "Asia/Seoul" or "UTC"
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

// pagePool is one page's parsed templates. A template set calls the
// functions of web.Funcs for one reader (the language and time zone of the
// request it renders), so a set serves one rendering at a time: render
// takes one from free, points it at its reader, executes it and gives it
// back. When all are busy a new set is cloned from master (cheap: the
// parse trees are copied, not parsed again; the clone is escaped on its
// first execution). At most cap(free) idle sets are kept.
type pagePool struct {
	master *template.Template // parsed, never executed (html/template cannot clone an executed set)
	mu     sync.Mutex         // held while cloning master
	free   chan *pageSet
}

// pageSet is one template set and the reader its functions read.
type pageSet struct {
	t   *template.Template
	cur web.Locale
}

// idlePageSets is how many idle template sets of a page (per language)
// are kept. A set is held only while it executes, which is CPU-bound work
// of some 0.1 ms, so about GOMAXPROCS of them are in use at once; an
// escaped set takes some 100 KB (measured on the profile page), so the
// bound also bounds memory: 14 pages × 2 languages × 4 ≈ 12 MB at most.
const idlePageSets = 4

// get returns an idle set, or a new clone.
func (p *pagePool) get() (*pageSet, error) {
	select {
	case ps := <-p.free:
		return ps, nil
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, err := p.master.Clone()
	if err != nil {
		return nil, err
	}
	ps := &pageSet{t: t}
	t.Funcs(web.Funcs(&ps.cur))
	return ps, nil
}

// put gives ps back (dropped when enough are idle).
func (p *pagePool) put(ps *pageSet) {
	ps.cur = nil
	select {
	case p.free <- ps:
	default:
	}
}

// parsePages parses base.html + partials/*.html + pages/NAME.html for each
// page and each language of catalog; the result is keyed by language,
// then by NAME without extension. Each language's set is parsed from the
// templates with its fixed words filled in (translatedFS), so that the
// words cost nothing at rendering. One set of each page is cloned and
// kept, so that a clone error shows at start-up.
func parsePages(fsys fs.FS, catalog *locale.Catalog) (map[string]map[string]*pagePool, error) {
	out := make(map[string]map[string]*pagePool)
	for _, lang := range catalog.Langs() {
		pages, err := parseLangPages(translatedFS{fsys: fsys, catalog: catalog, lang: lang})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lang, err)
		}
		out[lang] = pages
	}
	return out, nil
}

// translatedFS is a template tree with each {{t "ID"}} (a message with no
// template data, called with a constant ID) replaced by the message's text
// in lang, HTML-escaped: what the t function would print there. Every
// other call of t is left to run at rendering.
type translatedFS struct {
	fsys    fs.FS
	catalog *locale.Catalog
	lang    string
}

// fixedWords matches {{t "ID"}}, with html/template's trim markers.
var fixedWords = regexp.MustCompile(`\{\{(-? )?t "([a-z0-9_.]+)"( -)?\}\}`)

// ReadFile implements fs.ReadFileFS (what template.ParseFS reads with).
func (t translatedFS) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(t.fsys, name)
	if err != nil {
		return nil, err
	}
	return fixedWords.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := fixedWords.FindSubmatch(m)
		if len(sub[1]) > 0 || len(sub[3]) > 0 {
			return m // trim markers: keep the action, its trimming matters
		}
		text := t.catalog.T(t.lang, string(sub[2]))
		if text == string(sub[2]) || strings.Contains(text, "{{") {
			return m // an unknown ID or a message with fields: left to t (which shows the ID)
		}
		return []byte(template.HTMLEscapeString(text))
	}), nil
}

// Open implements fs.FS.
func (t translatedFS) Open(name string) (fs.File, error) { return t.fsys.Open(name) }

// Glob implements fs.GlobFS.
func (t translatedFS) Glob(pattern string) ([]string, error) { return fs.Glob(t.fsys, pattern) }

// parseLangPages is parsePages for one language's tree.
func parseLangPages(fsys fs.FS) (map[string]*pagePool, error) {
	names, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("templates: no pages found")
	}
	pages := make(map[string]*pagePool, len(names))
	for _, name := range names {
		var parseReader web.Locale // never called: parsing only checks the names
		t, err := template.New("base").Funcs(web.Funcs(&parseReader)).ParseFS(fsys, "base.html", "partials/*.html", name)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		p := &pagePool{master: t, free: make(chan *pageSet, idlePageSets)}
		ps, err := p.get()
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		p.put(ps)
		pages[path.Base(name[:len(name)-len(".html")])] = p
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

// execute renders page for r's reader (readerOf) into buf.
func (s *Server) execute(buf *bytes.Buffer, r *http.Request, page string, data templateData) error {
	rd := s.readerOf(r)
	p, ok := s.pages[rd.Lang()][page]
	if !ok {
		return fmt.Errorf("render: no page %q", page)
	}
	ps, err := p.get()
	if err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	ps.cur = rd
	err = ps.t.ExecuteTemplate(buf, "base", data)
	p.put(ps)
	if err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	return nil
}

// render executes page into a buffer first, so a template error becomes a
// clean 500 rather than half a page, then writes status and body.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data templateData) {
	var buf bytes.Buffer
	if err := s.execute(&buf, r, page, data); err != nil {
		s.serverError(w, r, err)
		return
	}
	if data.NewDevice != nil {
		// Shown: once per session (written when the response starts, below).
		s.sessions.MarkNoticeSeen(r.Context(), data.NewDevice.Time)
	}
	writePage(w, status, &buf)
}

func writePage(w http.ResponseWriter, status int, buf *bytes.Buffer) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Header().Add("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderError writes the error page with the message msgID of the
// catalogue (args as for locale.Catalog.T) in r's reader's language; if
// even that fails it falls back to plain text.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msgID string, args ...any) {
	rd := s.readerOf(r)
	msg := rd.T(msgID, args...)
	data := templateData{Title: statusTitle(rd, status), Status: status, Message: msg,
		User: currentUser(r.Context()), CSRFToken: s.sessions.CSRFToken(r.Context()), Here: r.URL.RequestURI()}
	var buf bytes.Buffer
	if s.execute(&buf, r, "error", data) == nil {
		writePage(w, status, &buf)
		return
	}
	http.Error(w, msg, status)
}

// statusTitle is the error page's title for status: the catalogue's
// http.NNN ("Not Found", "페이지를 찾을 수 없습니다"), or "Error NNN".
func statusTitle(rd *locale.Reader, status int) string {
	id := "http." + strconv.Itoa(status)
	if t := rd.T(id); t != id {
		return t
	}
	return rd.T("http.error", "Status", status)
}
