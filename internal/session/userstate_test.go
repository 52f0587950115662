package session_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// stateFixture is a real SQLite store whose account changes keep a real
// Redis copy (the production wiring), with one account.
type stateFixture struct {
	db     *store.DB
	rs     *session.RedisStore
	pool   *redis.Pool
	prefix string
	u      *user.User
}

func newStateFixture(t *testing.T) *stateFixture {
	t.Helper()
	db := session.OpenTestDB(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
	f := &stateFixture{db: db, pool: sessiontest.RedisPool(t), prefix: sessiontest.Prefix(t)}
	f.rs = session.NewRedisStore(f.pool, f.prefix, 5*time.Second)
	db.SetUserStateCache(f.rs)
	f.u = &user.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "x", Role: user.RoleUser}
	if err := db.CreateUser(t.Context(), f.u); err != nil {
		t.Fatal(err)
	}
	return f
}

// key returns the Redis key of the account's copy: P{bucket}:us:<id>
// (session.RedisBuckets).
func (f *stateFixture) key() string {
	return sessiontest.UserStateKey(f.prefix, f.u.ID)
}

// copy returns the stored copy's fields (empty map when there is none)
// and its remaining lifetime.
func (f *stateFixture) copy(t *testing.T) (map[string]string, time.Duration) {
	t.Helper()
	conn := f.pool.Get()
	defer conn.Close()
	key := f.key()
	m, err := redis.StringMap(conn.Do("HGETALL", key))
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := redis.Int64(conn.Do("PTTL", key))
	return m, time.Duration(ms) * time.Millisecond
}

func (f *stateFixture) fresh(t *testing.T) *user.User {
	t.Helper()
	u, err := f.db.UserByID(t.Context(), f.u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUserStateVersionGuard: a copy is only ever replaced by a higher
// version, so a request that read the account before a change cannot
// bring the old state back by populating after it.
func TestUserStateVersionGuard(t *testing.T) {
	f := newStateFixture(t)
	ctx := t.Context()
	stale := f.fresh(t) // read before the change, like a slow request

	if err := f.db.SetDisabled(ctx, f.u.ID, true); err != nil {
		t.Fatal(err)
	}
	m, ttl := f.copy(t)
	if m["di"] != "1" || m["v"] != "1" || m["hold"] != "" {
		t.Fatalf("copy after disabling: %v", m)
	}
	if ttl <= time.Minute || ttl > session.UserStateTTL {
		t.Errorf("copy lifetime %v, want up to %v", ttl, session.UserStateTTL)
	}
	if written, err := f.rs.PopulateUserState(ctx, stale); err != nil || written {
		t.Fatalf("stale populate: written %v, err %v; want refused", written, err)
	}
	if m, _ := f.copy(t); m["di"] != "1" {
		t.Fatalf("a stale populate overwrote the copy: %v", m)
	}
	same := f.fresh(t)
	conn := f.pool.Get()
	if _, err := conn.Do("PEXPIRE", f.key(), 60_000); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if written, _ := f.rs.PopulateUserState(ctx, same); written {
		t.Error("a populate of the same version rewrote the copy")
	}
	// Nor did it restart the copy's lifetime: otherwise every sign-in
	// would keep a copy alive past UserStateTTL.
	if _, ttl := f.copy(t); ttl > time.Minute {
		t.Errorf("a populate of the same version restarted the copy's lifetime: %v left, want at most 1m", ttl)
	}
	if _, err := f.rs.PopulateUserState(ctx, &user.User{ID: f.u.ID, StateVersion: 9, Role: user.RoleUser}); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.copy(t); m["v"] != "9" {
		t.Errorf("a newer populate was refused: %v", m)
	}
	if got, ok := principalOf(t, f); !ok || got != "v9 user" {
		t.Errorf("principal loaded with the session = %q, want the copy v9 user", got)
	}
}

// failingPut is the production cache whose final write fails.
type failingPut struct{ *session.RedisStore }

func (failingPut) PutUserState(context.Context, *user.User) error {
	return errors.New("redis went away")
}

// TestUserStateHeldDuringChange: while a change is in flight, and after a
// change whose final write failed, no populate lands (the old state cannot
// come back) and readers see no copy; the held copy expires within the
// hold's lifetime. A change whose hold cannot be written is refused.
func TestUserStateHeldDuringChange(t *testing.T) {
	f := newStateFixture(t)
	ctx := t.Context()
	if _, err := f.rs.PopulateUserState(ctx, f.fresh(t)); err != nil {
		t.Fatal(err)
	}
	stale := f.fresh(t)

	f.db.SetUserStateCache(failingPut{f.rs})
	err := f.db.SetRole(ctx, f.u.ID, user.RoleAdmin)
	if !errors.Is(err, user.ErrStateCopyNotWritten) {
		t.Fatalf("SetRole with a failing copy write: %v, want ErrStateCopyNotWritten", err)
	}
	if got := f.fresh(t); got.Role != user.RoleAdmin {
		t.Fatalf("the change itself was not stored: role %s", got.Role)
	}
	if written, err := f.rs.PopulateUserState(ctx, stale); err != nil || written {
		t.Errorf("a stale populate after a failed final write: written %v, err %v; want refused", written, err)
	}
	m, ttl := f.copy(t)
	if m["hold"] != "1" || m["ro"] != "user" {
		t.Errorf("held copy: %v", m)
	}
	if ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("a held copy lives %v, want at most 30s", ttl)
	}
	if got, ok := principalOf(t, f); ok {
		t.Errorf("a held copy was given to the middleware: %s", got)
	}

	// A change that cannot hold the copy is refused: nothing changes.
	f.db.SetUserStateCache(session.NewRedisStore(deadPool(), f.prefix, time.Second))
	if err := f.db.SetDisabled(ctx, f.u.ID, true); err == nil {
		t.Fatal("a change whose copy could not be held went through")
	}
	if got := f.fresh(t); got.Disabled {
		t.Error("the refused change was stored")
	}
}

// principalOf signs in a session of f's account on f.rs and loads it
// back through a Manager, returning the principal that came with it.
func principalOf(t *testing.T, f *stateFixture) (string, bool) {
	t.Helper()
	a := newRaceApp(t, f.rs, 0, 0)
	a.uid = f.u.ID
	_, c := a.send(t, http.MethodPost, "/login", "")
	if c == nil {
		t.Fatal("login set no cookie")
	}
	got, _ := a.send(t, http.MethodGet, "/principal", c.Value)
	return got, got != "none"
}

// deadPool is a pool whose every connection fails, as when Redis is down.
func deadPool() *redis.Pool {
	return &redis.Pool{Dial: func() (redis.Conn, error) { return nil, errors.New("redis is down") }}
}

// TestEveryAccountChangeWritesTheCopy: each store method that changes a
// field of the principal leaves a copy equal to the SQL row, at the row's
// new version (so no caller — web, CLI, reset link — can forget it).
func TestEveryAccountChangeWritesTheCopy(t *testing.T) {
	f := newStateFixture(t)
	ctx := t.Context()
	now := time.Now()
	changes := []struct {
		name   string
		change func() error
	}{
		{"SetPassword", func() error { return f.db.SetPassword(ctx, f.u.ID, "new-hash", now) }},
		{"SetDisabled(true)", func() error { return f.db.SetDisabled(ctx, f.u.ID, true) }},
		{"SetDisabled(false)", func() error { return f.db.SetDisabled(ctx, f.u.ID, false) }},
		{"SetRole", func() error { return f.db.SetRole(ctx, f.u.ID, user.RoleAdmin) }},
		{"SetTimeZone", func() error { return f.db.SetTimeZone(ctx, f.u.ID, "Asia/Seoul") }},
		{"InvalidateSessions", func() error { return f.db.InvalidateSessions(ctx, f.u.ID, now) }},
		{"ResetPassword", func() error {
			token, _, err := f.db.CreatePasswordReset(ctx, f.u.ID, now)
			if err != nil {
				return err
			}
			_, err = f.db.ResetPassword(ctx, token, "reset-hash", now)
			return err
		}},
		{"RecordDeviceLogin (new device)", func() error {
			if _, err := f.db.RecordDeviceLogin(ctx, f.u.ID, "a|net", "Firefox on Linux", "handle-a", now, now.Add(-time.Hour)); err != nil {
				return err
			}
			isNew, err := f.db.RecordDeviceLogin(ctx, f.u.ID, "b|net", "Chrome on macOS", "handle-b", now.Add(123*time.Millisecond), now.Add(-time.Hour))
			if err == nil && !isNew {
				t.Error("second device not new")
			}
			return err
		}},
	}
	for _, c := range changes {
		before := f.fresh(t).StateVersion
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		row := f.fresh(t)
		m, _ := f.copy(t)
		want := map[string]string{
			"v": strconv.FormatInt(row.StateVersion, 10), "ep": strconv.FormatInt(row.SessionsValidAfter.Unix(), 10),
			"ro": string(row.Role), "di": map[bool]string{true: "1", false: "0"}[row.Disabled],
			"em": row.Email, "na": row.Name, "cr": strconv.FormatInt(row.CreatedAt.Unix(), 10),
			"nda": "0", "ndl": row.NewDevice.Label, "ndh": row.NewDevice.Handle, "tz": row.TimeZone,
		}
		if row.SessionsValidAfter.IsZero() {
			want["ep"] = "0"
		}
		if !row.NewDevice.At.IsZero() {
			want["nda"] = strconv.FormatInt(row.NewDevice.At.UnixMilli(), 10)
		}
		if row.StateVersion <= before {
			t.Errorf("%s: state_version %d → %d, want it to grow", c.name, before, row.StateVersion)
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: copy %s = %q, SQL says %q", c.name, k, m[k], v)
			}
		}
		if _, held := m["hold"]; held {
			t.Errorf("%s: the copy is still held", c.name)
		}
	}
	if got := f.fresh(t).TimeZone; got != "Asia/Seoul" {
		t.Errorf("time zone = %q, want Asia/Seoul", got)
	}
	if got := f.fresh(t).NewDevice; got.Handle != "handle-b" || got.At.UnixMilli() != now.Add(123*time.Millisecond).UnixMilli() {
		t.Errorf("newest new-device sign-in = %+v, want handle-b at ms precision", got)
	}
}
