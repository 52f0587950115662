package session

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/latch/latch/internal/fail"
)

// Cursor is a position in the admin view's order of sessions (Registry.
// Sessions without a filter): newest last seen first, equal times in an
// order of the store's own that is fixed per session (Redis: descending
// token hash; SQL: descending handle). It names one session by its last
// seen time (milliseconds) and its handle, both public (Record), so a
// cursor in a URL tells no more than the page it came from. A page read
// from a cursor costs what a first page does, however deep it is (keyset
// pagination), where an offset costs O(offset).
type Cursor struct {
	LastSeen time.Time // the session's last seen time; only milliseconds count
	Handle   string    // the session's handle (ValidHandle)
}

// ErrBadCursor is returned by ParseCursor for text that is not a cursor.
var ErrBadCursor = fail.New(fail.Invalid, "session: malformed page cursor")

// CursorOf returns the position of rec in the admin view's order.
func CursorOf(rec Record) Cursor {
	return Cursor{LastSeen: rec.LastSeen, Handle: rec.Handle}
}

// String encodes c for a URL: "<last seen unix ms>.<handle>" (the handle
// alphabet, URL-safe base64, has no "."). ParseCursor reads it back.
func (c Cursor) String() string {
	return strconv.FormatInt(c.LastSeen.UnixMilli(), 10) + "." + c.Handle
}

// ParseCursor reads a Cursor written by Cursor.String. Errors: ErrBadCursor
// (kind fail.Invalid) when s is not a non-negative millisecond count, a
// ".", and a valid handle.
func ParseCursor(s string) (Cursor, error) {
	ms, handle, ok := strings.Cut(s, ".")
	if !ok || ms == "" || len(ms) > 15 || !ValidHandle(handle) {
		return Cursor{}, ErrBadCursor
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(ms, "+") {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{LastSeen: time.UnixMilli(n), Handle: handle}, nil
}

// byCursor reports whether a comes before b in the order of a filtered
// list (newest last seen first, equal times by descending handle).
func byCursor(a, b Cursor) bool {
	if x, y := a.LastSeen.UnixMilli(), b.LastSeen.UnixMilli(); x != y {
		return x > y
	}
	return a.Handle > b.Handle
}

// pageOf cuts q's page (q normalized) from recs, every session matching
// q's filter: it orders them newest first, equal times by descending
// handle, and applies q.After or q.Before, q.Offset and q.Limit. Total is
// len(recs).
func pageOf(recs []Record, q Query) Page {
	sort.Slice(recs, func(i, j int) bool { return byCursor(CursorOf(recs[i]), CursorOf(recs[j])) })
	page := Page{Total: len(recs)}
	switch {
	case q.After != nil:
		i := sort.Search(len(recs), func(i int) bool { return byCursor(*q.After, CursorOf(recs[i])) })
		recs = recs[i:]
	case q.Before != nil:
		i := sort.Search(len(recs), func(i int) bool { return !byCursor(CursorOf(recs[i]), *q.Before) })
		recs = recs[:i]
		end := max(0, len(recs)-q.Offset)
		page.Records = recs[max(0, end-q.Limit):end]
		return page
	}
	if q.Offset < len(recs) {
		page.Records = recs[q.Offset:min(len(recs), q.Offset+q.Limit)]
	}
	return page
}
