package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// Hand-written fakes for the server's dependencies. fakeSessions is an
// in-memory session store whose registry side (handles, listing,
// revocation) holds only what the code under test wrote: the record the
// session.Manager passes with each commit (session.RecordFrom), as Latch's
// real stores keep it. Tests add other devices' sessions through the
// Manager too (testApp.seedSession), never by hand, so a Manager that
// stopped recording would leave the devices pages empty and fail them.
// (The real stores are tested against Redis and SQL in internal/session;
// they check expiry against the wall clock, not the fixed test clock t0
// these tests run on.)

// errFake is what a fake returns when told to fail: like the real session
// stores, it wraps session.ErrUnavailable.
var errFake = fmt.Errorf("fake: %w", session.ErrUnavailable)

// fakeSessions is an in-memory scs store plus a registry of records, both
// keyed by session token.
type fakeSessions struct {
	mu      sync.Mutex
	data    map[string][]byte
	records map[string]session.Record
	order   []string // tokens with a record, oldest first
	err     error    // returned by every registry method when set

	lastQuery  session.Query
	revokeUser []string // "uid/except" of each RevokeUser call
}

var _ session.Store = (*fakeSessions)(nil)

func newFakeSessions() *fakeSessions {
	return &fakeSessions{data: map[string][]byte{}, records: map[string]session.Record{}}
}

func (f *fakeSessions) Delete(token string) error { return f.DeleteCtx(context.Background(), token) }
func (f *fakeSessions) Find(token string) ([]byte, bool, error) {
	return f.FindCtx(context.Background(), token)
}
func (f *fakeSessions) Commit(token string, b []byte, expiry time.Time) error {
	return f.CommitCtx(context.Background(), token, b, expiry)
}

func (f *fakeSessions) DeleteCtx(ctx context.Context, token string) error {
	if session.KeepOnRenew(ctx) {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteLocked(token)
	return nil
}

func (f *fakeSessions) deleteLocked(token string) {
	delete(f.data, token)
	if _, ok := f.records[token]; ok {
		delete(f.records, token)
		f.order = slices.DeleteFunc(f.order, func(t string) bool { return t == token })
	}
}

func (f *fakeSessions) FindCtx(_ context.Context, token string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.data[token]
	return b, ok, nil
}

// CommitCtx creates a session only when ctx says so (session.WithCreate)
// and otherwise updates one that still exists (else session.ErrGone), as
// the real stores do; the record the Manager passes replaces the
// session's registry record.
func (f *fakeSessions) CommitCtx(ctx context.Context, token string, b []byte, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.data[token]; !ok && !session.IsCreate(ctx) {
		return session.ErrGone
	}
	f.data[token] = b
	if rec, ok := session.RecordFrom(ctx); ok && rec.Handle != "" {
		if _, had := f.records[token]; !had {
			f.order = append(f.order, token)
		}
		f.records[token] = rec
	}
	return nil
}

// has reports whether a session with this handle is in the registry.
func (f *fakeSessions) has(handle string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.tokenOfLocked(handle)
	return ok
}

func (f *fakeSessions) tokenOfLocked(handle string) (string, bool) {
	for _, t := range f.order {
		if f.records[t].Handle == handle {
			return t, true
		}
	}
	return "", false
}

// matchLocked returns the records match selects, newest activity first
// (as the real stores list them; ties in creation order).
func (f *fakeSessions) matchLocked(match func(session.Record) bool) []session.Record {
	var out []session.Record
	for _, t := range f.order {
		if r := f.records[t]; match(r) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b session.Record) int { return b.LastSeen.Compare(a.LastSeen) })
	return out
}

func (f *fakeSessions) UserSessions(_ context.Context, userID int64) ([]session.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return f.matchLocked(func(r session.Record) bool { return r.UserID == userID }), nil
}

func (f *fakeSessions) Sessions(_ context.Context, q session.Query) (session.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return session.Page{}, f.err
	}
	f.lastQuery = q
	match := f.matchLocked(func(r session.Record) bool {
		return (q.UserID == 0 || r.UserID == q.UserID) && (q.IP == "" || r.IP == q.IP)
	})
	page := session.Page{Total: len(match)}
	// Equal times by descending handle, as the SQL store orders them, so
	// that a cursor (session.Query.After, Before) names one place.
	slices.SortStableFunc(match, func(a, b session.Record) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(b.Handle, a.Handle)
	})
	beyond := func(r session.Record, c session.Cursor) int { // > 0: r after c in that order
		if x, y := r.LastSeen.UnixMilli(), c.LastSeen.UnixMilli(); x != y {
			return cmp.Compare(y, x)
		}
		return strings.Compare(c.Handle, r.Handle)
	}
	switch {
	case q.After != nil:
		match = slices.DeleteFunc(match, func(r session.Record) bool { return beyond(r, *q.After) <= 0 })
	case q.Before != nil:
		match = slices.DeleteFunc(match, func(r session.Record) bool { return beyond(r, *q.Before) >= 0 })
		end := max(0, len(match)-q.Offset)
		page.Records = match[max(0, end-q.Limit):end]
		return page, nil
	}
	if q.Offset < len(match) {
		page.Records = match[q.Offset:min(len(match), q.Offset+q.Limit)]
	}
	return page, nil
}

// Revoke ends the session with this handle: its data and its record.
func (f *fakeSessions) Revoke(_ context.Context, handle string) (session.Record, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return session.Record{}, false, f.err
	}
	t, ok := f.tokenOfLocked(handle)
	if !ok {
		return session.Record{}, false, nil
	}
	r := f.records[t]
	f.deleteLocked(t)
	return r, true, nil
}

func (f *fakeSessions) RevokeUser(_ context.Context, userID int64, except string) ([]session.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.revokeUser = append(f.revokeUser, strconv.FormatInt(userID, 10)+"/"+except)
	var ended []session.Record
	for _, t := range slices.Clone(f.order) {
		if r := f.records[t]; r.UserID == userID && r.Handle != except {
			ended = append(ended, r)
			f.deleteLocked(t)
		}
	}
	return ended, nil
}

func (f *fakeSessions) Sweep(context.Context) (int, error) { return 0, nil }

// CountByKind counts the registry's records by kind.
func (f *fakeSessions) CountByKind(context.Context) (browser, app int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, 0, f.err
	}
	for _, r := range f.records {
		if r.Kind == session.KindApp {
			app++
		} else {
			browser++
		}
	}
	return browser, app, nil
}

// Rotate moves the session of oldToken, data and record, to newToken.
func (f *fakeSessions) Rotate(_ context.Context, oldToken, newToken string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.data[oldToken]
	if !ok {
		return session.ErrGone
	}
	delete(f.data, oldToken)
	f.data[newToken] = b
	if r, ok := f.records[oldToken]; ok {
		delete(f.records, oldToken)
		f.records[newToken] = r
		f.order[slices.Index(f.order, oldToken)] = newToken
	}
	return nil
}

// fakeUsers is an in-memory UserStore.
type fakeUsers struct {
	mu     sync.Mutex
	users  map[int64]*user.User
	nextID int64
}

var _ UserStore = (*fakeUsers)(nil)

func newFakeUsers() *fakeUsers { return &fakeUsers{users: map[int64]*user.User{}, nextID: 1} }

func (f *fakeUsers) CreateUser(_ context.Context, u *user.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.users {
		if strings.EqualFold(v.Email, u.Email) {
			return user.ErrEmailTaken
		}
	}
	u.ID = f.nextID
	f.nextID++
	if u.Role == "" {
		u.Role = user.RoleUser
	}
	cp := *u
	f.users[u.ID] = &cp
	return nil
}

func (f *fakeUsers) UserByEmail(_ context.Context, email string) (*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.users {
		if strings.EqualFold(v.Email, strings.TrimSpace(email)) {
			cp := *v
			return &cp, nil
		}
	}
	return nil, user.ErrNotFound
}

func (f *fakeUsers) UserByID(_ context.Context, id int64) (*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.users[id]; ok {
		cp := *v
		return &cp, nil
	}
	return nil, user.ErrNotFound
}

func (f *fakeUsers) UsersByIDs(_ context.Context, ids []int64) (map[int64]*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	found := map[int64]*user.User{}
	for _, id := range ids {
		if v, ok := f.users[id]; ok {
			cp := *v
			found[id] = &cp
		}
	}
	return found, nil
}

func (f *fakeUsers) SetPasswordHash(_ context.Context, id int64, hash string) error {
	return f.update(id, func(u *user.User) { u.PasswordHash = hash })
}

func (f *fakeUsers) SetDisabled(_ context.Context, id int64, disabled bool) error {
	return f.update(id, func(u *user.User) { u.Disabled = disabled })
}

func (f *fakeUsers) SetTimeZone(_ context.Context, id int64, zone string) error {
	return f.update(id, func(u *user.User) { u.TimeZone = zone })
}

func (f *fakeUsers) update(id int64, fn func(*user.User)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return user.ErrNotFound
	}
	fn(u)
	return nil
}

func (f *fakeUsers) Users(_ context.Context, q string, offset, limit int) ([]user.User, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var match []user.User
	for id := int64(1); id < f.nextID; id++ {
		if u, ok := f.users[id]; ok && strings.Contains(strings.ToLower(u.Email), strings.ToLower(q)) {
			match = append(match, *u)
		}
	}
	if offset >= len(match) {
		return nil, len(match), nil
	}
	return match[offset:min(len(match), offset+limit)], len(match), nil
}

// fakeAudit is an in-memory AuditLog.
type fakeAudit struct {
	mu        sync.Mutex
	events    []audit.Event
	insertErr error
	listErr   error
	lastQuery audit.Filter
}

var _ AuditLog = (*fakeAudit)(nil)

func (f *fakeAudit) InsertAuditEvent(_ context.Context, e *audit.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.insertErr != nil {
		return f.insertErr
	}
	e.ID = int64(len(f.events) + 1)
	f.events = append(f.events, *e)
	return nil
}

func (f *fakeAudit) AuditEvents(_ context.Context, q audit.Filter) ([]audit.Event, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, 0, f.listErr
	}
	f.lastQuery = q
	var match []audit.Event
	for i := len(f.events) - 1; i >= 0; i-- {
		e := f.events[i]
		if q.UserID != 0 && e.ActorID != q.UserID && e.SubjectID != q.UserID {
			continue
		}
		if q.Type != "" && e.Type != q.Type {
			continue
		}
		if !q.Since.IsZero() && e.Time.Before(q.Since) {
			continue
		}
		if !q.Until.IsZero() && !e.Time.Before(q.Until) {
			continue
		}
		match = append(match, e)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if q.Offset >= len(match) {
		return nil, len(match), nil
	}
	return match[q.Offset:min(len(match), q.Offset+limit)], len(match), nil
}

// all returns a copy of the recorded events, oldest first.
func (f *fakeAudit) all() []audit.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// last returns the newest event of type t, or fails the lookup.
func (f *fakeAudit) last(t audit.Type) (audit.Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.events) - 1; i >= 0; i-- {
		if f.events[i].Type == t {
			return f.events[i], true
		}
	}
	return audit.Event{}, false
}

// fakeHasher "hashes" by prefixing; it counts Verify and PadFailure calls.
type fakeHasher struct {
	mu       sync.Mutex
	verifies int
	dummies  int
	pads     int
	// cheaper makes every stored hash cheaper than the current
	// parameters; dummyErr is what VerifyDummy returns.
	cheaper  bool
	dummyErr error
}

var _ PasswordHasher = (*fakeHasher)(nil)

func (h *fakeHasher) Hash(_ context.Context, pw string) (string, error) { return "plain:" + pw, nil }
func (h *fakeHasher) Verify(_ context.Context, pw, encoded string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.verifies++
	return encoded == "plain:"+pw, nil
}
func (h *fakeHasher) VerifyDummy(context.Context, string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dummies++
	return false, h.dummyErr
}
func (h *fakeHasher) NeedsRehash(string) bool { return false }
func (h *fakeHasher) CheaperThanCurrent(string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cheaper
}
func (h *fakeHasher) PadFailure(context.Context, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pads++
}

func (h *fakeHasher) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.verifies
}
