package session

import (
	"context"
	"log/slog"
	"time"
)

// Record describes one session in the registry: everything a person or an
// operator may see about it, and never its token. Handle is the public
// name of the session in pages, URLs, forms, logs and the CLI: 22 random
// URL-safe characters drawn at login, unrelated to the token, so knowing
// it gives no way to act as the session.
type Record struct {
	Handle           string
	UserID           int64
	Created          time.Time // login time
	LastSeen         time.Time // last recorded activity (refresh granularity)
	AbsoluteDeadline time.Time // fixed at login
	Expiry           time.Time // when the session ends if idle (≤ AbsoluteDeadline)
	IP               string    // client IP at login
	UserAgent        string    // User-Agent at login, at most 512 bytes
	Remember         bool      // "remember me"
	Kind             Kind      // KindBrowser or KindApp (bearer_record.go)
	DeviceName       string    // an app session's device name, as given at sign-in ("" for browsers)
}

// Query selects sessions for the admin view. Zero fields do not filter.
type Query struct {
	UserID int64  // only this user's sessions
	IP     string // only sessions from this client IP
	Offset int    // rows to skip (pagination), counted from After or Before when set
	Limit  int    // rows to return; 0 means 50, capped at 500
	// CountLimit, when above 0, allows the store to stop counting at
	// Offset+CountLimit+1 matching sessions (the SQL store does; Redis
	// counts exactly anyway): a Page.Total above Offset+CountLimit then
	// means "more than that". 0 asks for the exact count. Total always
	// counts from the newest session, cursor or not.
	CountLimit int
	// After, when set, selects the sessions strictly after this one in the
	// order of the list (keyset pagination: the next page after one whose
	// last record gave the cursor, CursorOf); Before, when set and After is
	// not, the Limit sessions strictly before it, still returned newest
	// first (the previous page). Unlike Offset, neither makes a page cost
	// more the deeper it is. With UserID or IP they cut that (small) list
	// the same way, equal times then ordered by descending handle.
	After, Before *Cursor
}

// Page is one page of sessions, newest activity first.
type Page struct {
	Records []Record
	// Total is the number of sessions matching the query (it may count a
	// few that expired since the last sweep).
	Total int
}

// Registry lists and revokes sessions by handle; both Latch stores provide
// it. Listing one user's sessions costs O(that user's sessions); the admin
// view pages through an index ordered by last activity. No method scans
// the keyspace. Every revocation deletes the session and its index entries
// together, and is final: a request that loaded the session earlier cannot
// write it back (see ErrGone).
type Registry interface {
	// UserSessions returns userID's active sessions, newest activity first.
	UserSessions(ctx context.Context, userID int64) ([]Record, error)
	// Sessions returns one page of active sessions matching q.
	Sessions(ctx context.Context, q Query) (Page, error)
	// Revoke ends the session with this handle. found is false when there is
	// no such active session (already ended, or never existed).
	Revoke(ctx context.Context, handle string) (rec Record, found bool, err error)
	// RevokeUser ends every session of userID except the one whose handle is
	// except ("" = none) and returns the ended sessions.
	RevokeUser(ctx context.Context, userID int64, except string) ([]Record, error)
	// Sweep removes index entries of sessions that have expired and returns
	// how many it removed. Latch runs it periodically; reads also clean up.
	Sweep(ctx context.Context) (int, error)
	// CountByKind returns the number of active sessions of each kind
	// (KindBrowser, KindApp): those not expired at the time of the call,
	// whether swept yet or not. It reads counts kept per kind in indexes
	// (Redis: one small script per bucket; SQL: two index counts), never
	// the sessions themselves.
	CountByKind(ctx context.Context) (browser, app int, err error)
}

type recordKey struct{}

// withRecord passes the registry record of the session being written from
// the Manager to the store's CommitCtx (see RecordFrom).
func withRecord(ctx context.Context, rec Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// RecordFrom returns the registry record that the Manager passes with a
// CommitCtx (scs's store API has no room for it), and whether there is one.
// Every Store keeps its registry from it (Latch's stores do; a fake store in
// another package's tests must too, so that what it lists is what the
// Manager recorded).
func RecordFrom(ctx context.Context) (Record, bool) {
	rec, ok := ctx.Value(recordKey{}).(Record)
	return rec, ok
}

// normalizeQuery applies Query's defaults.
func normalizeQuery(q Query) Query {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	q.Offset = max(q.Offset, 0)
	return q
}

// RunSweeper calls reg.Sweep every interval until ctx ends, logging
// failures. Expired sessions are never served in between; the sweep only
// keeps the indexes and tables from growing.
func RunSweeper(ctx context.Context, reg Registry, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := reg.Sweep(ctx); err != nil {
				log.Warn("session sweep failed", "err", err)
			} else if n > 0 {
				log.Debug("session sweep", "removed", n)
			}
		}
	}
}
