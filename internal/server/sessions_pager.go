package server

import (
	"net/http"
	"strconv"

	"github.com/latch/latch/internal/session"
)

// The admin sessions list pages with cursors (keyset pagination): "Next
// page" links ?after=<the page's last session>, "Previous page"
// ?before=<its first>, each with ?page= only to say which page it is. A
// page from a cursor costs what the first page does, however deep
// (session.Query.After); ?page=N alone still pages by offset, for the
// filtered lists (one account's or one IP's sessions, few) and old links.

// parseSessionCursor reads ?after= or ?before= of the admin sessions
// list (neither: nil, nil). Errors: errBadCursor (400, with the page's
// words) for a value that is not a cursor (session.ParseCursor), or for
// both at once.
func parseSessionCursor(r *http.Request) (after, before *session.Cursor, err error) {
	q := r.URL.Query()
	bad := withMessage(errBadCursor, "This page link is not valid. Go back to the first page of the list.")
	if q.Has("after") && q.Has("before") {
		return nil, nil, bad
	}
	for key, dst := range map[string]**session.Cursor{"after": &after, "before": &before} {
		if !q.Has(key) {
			continue
		}
		c, err := session.ParseCursor(q.Get(key))
		if err != nil {
			return nil, nil, bad
		}
		*dst = &c
	}
	return after, before, nil
}

// withCursorLinks turns p's Prev and Next links (newPager's, by page
// number) into cursor links around recs, page's sessions: Next after the
// last (none when the page is short: it is the last), Prev before the
// first, or to the first page itself from page 2.
func withCursorLinks(r *http.Request, p pager, page int, recs []session.Record) pager {
	if p.Next != "" {
		p.Next = ""
		if len(recs) == perPage {
			p.Next = cursorURL(r, page+1, "after", session.CursorOf(recs[len(recs)-1]))
		}
	}
	if p.Prev != "" {
		switch {
		case page == 2 || len(recs) == 0:
			p.Prev = cursorURL(r, 1, "", session.Cursor{})
		default:
			p.Prev = cursorURL(r, page-1, "before", session.CursorOf(recs[0]))
		}
	}
	return p
}

// cursorURL is the current list URL, filters kept, at page n from cursor
// c in direction key ("after", "before"; "" = the first page, no cursor).
func cursorURL(r *http.Request, n int, key string, c session.Cursor) string {
	q := r.URL.Query()
	q.Del("after")
	q.Del("before")
	q.Del("page")
	if key != "" {
		q.Set(key, c.String())
		q.Set("page", strconv.Itoa(n))
	}
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}
