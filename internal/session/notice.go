package session

import (
	"context"
	"time"
)

// NoticeSeen returns the time of the newest notice the current session has
// been shown (see MarkNoticeSeen), in UTC with millisecond precision; zero
// when none has been, and for an anonymous request.
func (m *Manager) NoticeSeen(ctx context.Context) time.Time {
	if m.UserID(ctx) == 0 {
		return time.Time{}
	}
	v := m.scs.GetInt64(ctx, keyNoticeSeen)
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// MarkNoticeSeen records that the current session has shown the notice of
// time t (kept in milliseconds). Only a time after the recorded one is
// written, and then the session is written back to the store when the
// response starts (one update-only write, like a refresh of the idle
// deadline): only the page that shows a notice writes. It does nothing
// for an anonymous request.
func (m *Manager) MarkNoticeSeen(ctx context.Context, t time.Time) {
	if m.UserID(ctx) == 0 || t.UnixMilli() <= m.scs.GetInt64(ctx, keyNoticeSeen) {
		return
	}
	m.scs.Put(ctx, keyNoticeSeen, t.UnixMilli())
}
