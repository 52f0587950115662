package session

import (
	"context"
	"time"
)

// keyNoticeSeen holds the time (int64 unix seconds) of the newest
// "new sign-in" notice this session has shown, so that each notice is shown
// once per session. It is kept beside the keys in manager.go, in its own
// file because only the new-device notice (internal/server/newdevice.go)
// uses it.
const keyNoticeSeen = "nseen"

// NoticeSeen returns the time of the newest notice the current session has
// been shown (see MarkNoticeSeen), in UTC; zero when none has been, and for
// an anonymous request.
func (m *Manager) NoticeSeen(ctx context.Context) time.Time {
	if m.UserID(ctx) == 0 {
		return time.Time{}
	}
	v := m.scs.GetInt64(ctx, keyNoticeSeen)
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(v, 0).UTC()
}

// MarkNoticeSeen records that the current session has shown the notice of
// time t (kept in whole seconds). Only a time after the recorded one is
// written, and then the session is written back to the store when the
// response starts (one update-only write, like a refresh of the idle
// deadline). It does nothing for an anonymous request.
func (m *Manager) MarkNoticeSeen(ctx context.Context, t time.Time) {
	if m.UserID(ctx) == 0 || t.Unix() <= m.scs.GetInt64(ctx, keyNoticeSeen) {
		return
	}
	m.scs.Put(ctx, keyNoticeSeen, t.Unix())
}
