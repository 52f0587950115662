package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/text"
	"github.com/latch/latch/internal/user"
)

// This file turns sessions, accounts and audit events into what the pages
// show, and holds the helpers the list pages share (paging, ids, handles).

// sessionRow is one session in a list: the signed-in user's devices or the
// admin views. Every string in it may come from a client (User-Agent) or an
// account (email, name); the templates print them escaped.
type sessionRow struct {
	Handle    string
	Device    string // browser and OS, "Firefox 128 on Linux"; "Unknown browser" when unrecognised
	UserAgent string // as sent at login (admin views)
	IP        string
	Created   time.Time // signed in
	LastSeen  time.Time // last recorded activity
	Remember  bool
	Current   bool    // the session of the request being answered ("This device")
	User      userRef // the session's account (admin views)
}

// userRef names an account in a list. Email is "" when the account no
// longer exists; ID 0 means nobody (a failed login for an unknown email).
type userRef struct {
	ID    int64
	Email string
	Name  string
}

// eventRow is one audit event as shown on the profile and admin pages.
type eventRow struct {
	Time          time.Time
	Type          audit.Type
	What          string // message ID of the plain words: "event.login_succeeded" ("Signed in")
	Via           string // message ID of who acted, shown after What (" by an administrator"); "" for the person themself
	Actor         userRef
	Subject       userRef
	Email         string // as typed at login; "" when it is just the subject's address
	IP            string
	Device        string // browser and OS of the request that caused it
	UserAgent     string
	SessionHandle string
	Detail        string
	// ActedBy is set on a list shown to the event's subject when someone
	// else acted: the message ID of "Done by an administrator" or "Done
	// from the command line"; the
	// actor's IP, device and session are then left out (ownEventRows).
	ActedBy string
}

// pager describes the position in a paginated list; Prev and Next are ""
// on the first and last page. With More, the list was counted only up to
// Total (countLimit items past the page's start): it has more than Total
// items and more than Pages pages.
type pager struct {
	Page, Pages, Total int
	More               bool
	Prev, Next         string
}

// countLimit is how many items past the start of a page the big admin
// lists (audit events, sessions) count, so that a page view never counts
// a million rows: "more than 1,000 events" instead of the exact number.
const countLimit = 1000

// filterView is an admin list's filter form as typed.
type filterView struct {
	Q, Email, IP, User, Type, From, To string
}

// option is one <option> of a select; Label is a message ID.
type option struct {
	Value, Label string
	Selected     bool
}

// reauthView is the "Confirm your password" page: a form posting to the
// action that asked for it, with what the person had entered.
type reauthView struct {
	Action string        // path of the sensitive action
	Fields []hiddenField // the original form, minus csrf_token and reauth_password
	Cancel string        // where "Cancel" goes
}

type hiddenField struct{ Name, Value string }

// perPage is the length of a page of every admin list.
const perPage = 50

// maxPage bounds ?page= so that the offset stays a small number.
const maxPage = 100000

// parsePage reads ?page= (default 1). Errors: errBadPage (400, with the
// page's words) for a value that is not a whole number from 1 to maxPage.
func parsePage(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("page")
	if raw == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxPage {
		return 0, withMessage(errBadPage, "error.page_number")
	}
	return n, nil
}

// newPager describes page of a list of total items. Errors:
// errPastLastPage (404, with the page's words) when page is past the last
// page (page 1 always exists).
// With bounded, total came from a count bounded by countLimit (see
// audit.Filter.CountLimit): a total above the page's offset + countLimit
// means the list has more than that, and the pager says so.
func newPager(r *http.Request, page, total int, bounded bool) (pager, error) {
	more := false
	if bound := (page-1)*perPage + countLimit; bounded && total > bound {
		total, more = bound, true
	}
	pages := max(1, (total+perPage-1)/perPage)
	if page > pages {
		return pager{}, withMessage(errPastLastPage, "error.past_last_page", "Count", pages)
	}
	p := pager{Page: page, Pages: pages, Total: total, More: more}
	if page > 1 {
		p.Prev = pageURL(r, page-1)
	}
	if page < pages || more {
		p.Next = pageURL(r, page+1)
	}
	return p, nil
}

// pageURL is the current list URL, filters kept, at page n.
func pageURL(r *http.Request, n int) string {
	q := r.URL.Query()
	if n <= 1 {
		q.Del("page")
	} else {
		q.Set("page", strconv.Itoa(n))
	}
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}

// queryText returns query parameter key trimmed, as valid UTF-8, and cut
// to at most n bytes.
func queryText(q url.Values, key string, n int) string {
	return text.Truncate(strings.TrimSpace(q.Get(key)), n)
}

// parseID reads a positive account id from a URL segment written in its
// one form, as the pages link it: decimal digits without a sign or
// leading zeros ("+1" and "01" name no account, so one account has one
// address).
func parseID(raw string) (int64, bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == raw
}

// device names the browser and operating system of a User-Agent:
// "Firefox 128 on Linux", "Safari 17 on iOS", "Unknown browser on Windows",
// or "Unknown browser".
func (s *Server) device(userAgent string) string {
	return s.deviceName(userAgent, true)
}

// deviceName names the browser and OS of a User-Agent, "Firefox 128 on
// Windows" (withVersion) or "Firefox on Windows"; "Unknown browser" when
// the parser finds none. The label is English and stored (known devices);
// pages show it through locale.Reader.Device, which knows this form.
func (s *Server) deviceName(userAgent string, withVersion bool) string {
	return s.accounts.DeviceName(userAgent, withVersion) // one parser and one wording for lists and audit details
}

// sessionRows describes recs for a list; current is the handle of the
// request's own session, users the accounts to name (nil: none).
func (s *Server) sessionRows(recs []session.Record, current string, users map[int64]userRef) []sessionRow {
	rows := make([]sessionRow, 0, len(recs))
	for _, rec := range recs {
		rows = append(rows, sessionRow{
			Handle:    rec.Handle,
			Device:    s.accounts.SessionDevice(rec, true), // "App: <device name>" for an app session
			UserAgent: rec.UserAgent,
			IP:        rec.IP,
			Created:   rec.Created,
			LastSeen:  rec.LastSeen,
			Remember:  rec.Remember,
			Current:   current != "" && rec.Handle == current,
			User:      userOrID(users, rec.UserID),
		})
	}
	return rows
}

// eventRows describes events for display; users names the accounts
// involved (nil: none).
func (s *Server) eventRows(events []audit.Event, users map[int64]userRef) []eventRow {
	rows := make([]eventRow, 0, len(events))
	for _, e := range events {
		row := eventRow{
			Time:          e.Time,
			Type:          e.Type,
			Email:         e.Email,
			IP:            e.IP,
			UserAgent:     e.UserAgent,
			SessionHandle: e.SessionHandle,
			Detail:        e.Detail,
		}
		row.What, row.Via = describeEvent(e)
		if e.UserAgent != "" {
			row.Device = s.device(e.UserAgent)
		}
		if e.ActorID != 0 {
			row.Actor = userOrID(users, e.ActorID)
		}
		if e.SubjectID != 0 {
			row.Subject = userOrID(users, e.SubjectID)
		}
		if strings.EqualFold(row.Email, row.Subject.Email) {
			row.Email = ""
		}
		rows = append(rows, row)
	}
	return rows
}

// ownEventRows describes events about viewer for viewer's own pages (the
// profile's activity). An event where someone else acted on the account
// (an administrator in the web admin, an operator with the CLI) says only
// who, in ActedBy: the IP address, device and session of the actor are
// theirs, not the account's, and are shown only to the actor and to
// administrators (issue 12.8; OWASP ASVS 5.0 V8.2.3, field-level access).
// Administrators see every detail. Events the account
// caused itself, and failed sign-ins on it (no actor: "was this you?"),
// keep theirs.
func (s *Server) ownEventRows(events []audit.Event, viewer *user.User) []eventRow {
	rows := s.eventRows(events, nil)
	if viewer == nil || viewer.Role == user.RoleAdmin {
		return rows
	}
	for i, e := range events {
		by := actedByOther(e, viewer.ID)
		if by == "" {
			continue
		}
		r := &rows[i]
		r.ActedBy = by
		r.Actor, r.IP, r.Device, r.UserAgent, r.SessionHandle = userRef{}, "", "", "", ""
	}
	return rows
}

// actedByOther says who acted in e, when it was not viewerID: the
// message ID of "Done by an administrator" or "Done from the command
// line", or "" when it was viewerID (or nobody known, as for a failed
// sign-in).
func actedByOther(e audit.Event, viewerID int64) string {
	switch {
	case e.Via == audit.ViaCLI:
		return "acted.cli"
	case e.Via == audit.ViaAdmin, e.ActorID != 0 && e.ActorID != viewerID:
		return "acted.admin"
	}
	return ""
}

func userOrID(users map[int64]userRef, id int64) userRef {
	if ref, ok := users[id]; ok {
		return ref
	}
	return userRef{ID: id}
}

// userRefs looks up the accounts in ids, for naming them in a list (at
// most two per row of a page) in one query (UserStore.UsersByIDs). An account
// that no longer exists gets a userRef with only its ID; any other store
// error is returned.
func (s *Server) userRefs(ctx context.Context, ids ...int64) (map[int64]userRef, error) {
	found, err := s.users.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	refs := make(map[int64]userRef, len(ids))
	for _, id := range ids {
		if id == 0 {
			continue
		}
		if u, ok := found[id]; ok {
			refs[id] = userRef{ID: u.ID, Email: u.Email, Name: u.Name}
		} else {
			refs[id] = userRef{ID: id}
		}
	}
	return refs, nil
}

// eventWords are the message IDs of the plain words for each event type
// ("Signed in", "로그인").
var eventWords = map[audit.Type]string{
	audit.LoginSucceeded:    "event.login_succeeded",
	audit.LoginFailed:       "event.login_failed",
	audit.Logout:            "event.logout",
	audit.SessionRevoked:    "event.session_revoked",
	audit.SessionsRevoked:   "event.sessions_revoked",
	audit.AccountDisabled:   "event.account_disabled",
	audit.AccountEnabled:    "event.account_enabled",
	audit.RoleChanged:       "event.role_changed",
	audit.UserCreated:       "event.user_created",
	audit.Reauthenticated:   "event.reauthenticated",
	audit.LoginNewDevice:    "event.login_new_device",
	audit.PasswordChanged:   "event.password_changed",
	audit.PasswordReset:     "event.password_reset",
	audit.PasswordResetLink: "event.password_reset_link",
}

// viaWords are the message IDs of who acted, when it was not the person
// themself (" by an administrator"): shown after the event's words.
var viaWords = map[audit.Via]string{
	audit.ViaAdmin:  "via.admin",
	audit.ViaCLI:    "via.cli",
	audit.ViaApp:    "via.app",
	audit.ViaLimit:  "via.limit",
	audit.ViaSystem: "via.system",
}

// describeEvent says what happened: the message IDs of the event's words
// and of who acted ("" when the person themself did). An unknown type is
// "event.unknown".
func describeEvent(e audit.Event) (what, via string) {
	words, ok := eventWords[e.Type]
	if !ok {
		words = "event.unknown"
	}
	return words, viaWords[e.Via]
}

// eventTypeOptions is the event-type select, with selected chosen.
func eventTypeOptions(selected string) []option {
	opts := make([]option, 0, len(audit.Types)+1)
	opts = append(opts, option{Value: "", Label: "event.any", Selected: selected == ""})
	for _, t := range audit.Types {
		opts = append(opts, option{Value: string(t), Label: eventWords[t], Selected: string(t) == selected})
	}
	return opts
}

func knownEventType(t string) bool {
	for _, known := range audit.Types {
		if string(known) == t {
			return true
		}
	}
	return false
}
