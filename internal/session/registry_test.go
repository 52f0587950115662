package session

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redisconn/clustertest"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store/storetest"
)

// registryFixture is a store plus a way to count what its indexes hold.
type registryFixture struct {
	store Store
	// indexEntries counts every index entry and stored session (Redis keys'
	// members, or table rows), to show that nothing is left behind.
	indexEntries func(t testing.TB) int
}

func redisRegistry(t testing.TB) registryFixture {
	pool := sessiontest.RedisPool(t)
	prefix := sessiontest.Prefix(t)
	return registryFixture{
		store: NewRedisStore(pool, prefix, 5*time.Second),
		indexEntries: func(t testing.TB) int {
			conn := pool.Get()
			defer conn.Close()
			n := 0
			for _, k := range sessiontest.RedisKeys(t, pool, prefix) {
				if strings.Contains(k, "}:r:") {
					continue // a rotation marker (old → new token) is neither a session nor an index entry
				}
				typ, _ := redis.String(conn.Do("TYPE", prefix+k))
				if typ == "zset" {
					c, _ := redis.Int(conn.Do("ZCARD", prefix+k))
					n += c
				} else {
					n++
				}
			}
			return n
		},
	}
}

// clusterRegistry returns a fixture maker for RedisStores on one Redis
// Cluster (3 masters, 1 replica each) started for parent.
func clusterRegistry(parent testing.TB) func(testing.TB) registryFixture {
	var src *redisconn.Cluster
	return func(t testing.TB) registryFixture {
		if src == nil {
			src, _ = clustertest.Start(parent)
		}
		prefix := sessiontest.Prefix(t)
		return registryFixture{
			store: NewRedisStore(src, prefix, 5*time.Second),
			indexEntries: func(t testing.TB) int {
				n := 0
				for _, k := range clustertest.Keys(t, src, prefix) {
					if strings.Contains(k, "}:r:") {
						continue
					}
					conn, err := src.GetContext(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					typ, _ := redis.String(conn.Do("TYPE", prefix+k))
					conn.Close()
					if typ == "zset" {
						conn, _ := src.GetContext(context.Background())
						c, _ := redis.Int(conn.Do("ZCARD", prefix+k))
						conn.Close()
						n += c
					} else {
						n++
					}
				}
				return n
			},
		}
	}
}

func sqlRegistry(t testing.TB, url string) registryFixture {
	db := OpenTestDB(t, url)
	return registryFixture{
		store: NewSQLStore(db.SQL(), db.Dialect(), 5*time.Second),
		indexEntries: func(t testing.TB) int {
			var n int
			if err := db.SQL().QueryRow(`SELECT count(*) FROM sessions`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	}
}

func registryFixtures() map[string]func(testing.TB) registryFixture {
	return map[string]func(testing.TB) registryFixture{
		"redis": redisRegistry,
		"sqlite": func(t testing.TB) registryFixture {
			return sqlRegistry(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
		},
		"postgres": func(t testing.TB) registryFixture { return sqlRegistry(t, storetest.PostgresURL(t)) },
	}
}

// put creates (or, with create false, updates) a session with a registry
// record the way the Manager does.
func put(t testing.TB, st Store, token string, rec Record, create bool) error {
	t.Helper()
	ctx := withRecord(context.Background(), rec)
	if create {
		ctx = WithCreate(ctx)
	}
	return st.CommitCtx(ctx, token, []byte("data:"+token), rec.Expiry)
}

// placed returns name, or name with a suffix, so that it falls in
// userID's bucket (rediskeys.go) as the Manager's tokens and handles do.
func placed(name string, userID int64) string {
	v := name
	for k := 0; hashBucket(HashToken(v)) != userBucket(userID); k++ {
		v = fmt.Sprintf("%s~%d", name, k)
	}
	return v
}

// tok is the session token named name of one of userID's sessions.
func tok(name string, userID int64) string { return placed(name, userID) }

func newRecord(i int, userID int64, ip string, seen time.Time) Record {
	return Record{
		Handle: placed(fmt.Sprintf("handle-%06d-xxxxxxxxxx", i), userID), UserID: userID,
		Created: seen.Add(-time.Minute).Truncate(time.Millisecond), LastSeen: seen.Truncate(time.Millisecond),
		AbsoluteDeadline: seen.Add(12 * time.Hour).Truncate(time.Millisecond),
		Expiry:           seen.Add(30 * time.Minute).Truncate(time.Millisecond),
		IP:               ip, UserAgent: "Mozilla/5.0 <script>", Remember: i%2 == 0,
	}
}

func handles(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Handle)
	}
	return out
}

func TestRegistryContract(t *testing.T) {
	fixtures := registryFixtures()
	fixtures["redis-cluster"] = clusterRegistry(t)
	for name, newFixture := range fixtures {
		t.Run(name, func(t *testing.T) { testRegistry(t, newFixture) })
	}
}

func testRegistry(t *testing.T, newFixture func(testing.TB) registryFixture) {
	now := time.Now()
	ctx := context.Background()

	t.Run("user sessions newest first, with every field", func(t *testing.T) {
		f := newFixture(t)
		a, b := newRecord(1, 42, "192.0.2.1", now.Add(-time.Minute)), newRecord(2, 42, "192.0.2.2", now)
		other := newRecord(3, 7, "192.0.2.1", now)
		for i, r := range []Record{a, b, other} {
			if err := put(t, f.store, tok(fmt.Sprintf("tok-%d", i), r.UserID), r, true); err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.store.UserSessions(ctx, 42)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Handle != b.Handle || got[1].Handle != a.Handle {
			t.Fatalf("UserSessions = %v, want [%s %s]", handles(got), b.Handle, a.Handle)
		}
		g := got[0]
		if !g.Created.Equal(b.Created) || !g.LastSeen.Equal(b.LastSeen) || !g.AbsoluteDeadline.Equal(b.AbsoluteDeadline) ||
			!g.Expiry.Equal(b.Expiry) || g.IP != b.IP || g.UserAgent != b.UserAgent || g.Remember != b.Remember || g.UserID != 42 {
			t.Errorf("record round trip:\n got %+v\nwant %+v", g, b)
		}
	})

	t.Run("revoke by handle is final", func(t *testing.T) {
		f := newFixture(t)
		r := newRecord(1, 42, "192.0.2.1", now)
		if err := put(t, f.store, tok("tok-1", 42), r, true); err != nil {
			t.Fatal(err)
		}
		got, found, err := f.store.Revoke(ctx, r.Handle)
		if err != nil || !found || got.Handle != r.Handle || got.UserID != 42 {
			t.Fatalf("Revoke = %+v, %v, %v", got, found, err)
		}
		if _, ok, _ := f.store.FindCtx(ctx, tok("tok-1", 42)); ok {
			t.Fatal("revoked session still found")
		}
		if err := put(t, f.store, tok("tok-1", 42), r, false); !errors.Is(err, ErrGone) {
			t.Fatalf("in-flight write after revoke: err = %v, want ErrGone", err)
		}
		if _, found, _ := f.store.Revoke(ctx, r.Handle); found {
			t.Error("second revoke found the session")
		}
		if _, found, _ := f.store.Revoke(ctx, "no-such-handle"); found {
			t.Error("unknown handle found")
		}
		if n := f.indexEntries(t); n != 0 {
			t.Errorf("%d index entries left after revoke", n)
		}
	})

	t.Run("revoke user keeps the exception", func(t *testing.T) {
		f := newFixture(t)
		keep := newRecord(1, 42, "192.0.2.1", now)
		for i, r := range []Record{keep, newRecord(2, 42, "", now), newRecord(3, 42, "192.0.2.3", now), newRecord(4, 7, "", now)} {
			if err := put(t, f.store, tok(fmt.Sprintf("tok-%d", i), r.UserID), r, true); err != nil {
				t.Fatal(err)
			}
		}
		ended, err := f.store.RevokeUser(ctx, 42, keep.Handle)
		if err != nil || len(ended) != 2 {
			t.Fatalf("RevokeUser = %v, %v; want 2 ended", handles(ended), err)
		}
		left, _ := f.store.UserSessions(ctx, 42)
		if len(left) != 1 || left[0].Handle != keep.Handle {
			t.Errorf("left = %v, want [%s]", handles(left), keep.Handle)
		}
		if others, _ := f.store.UserSessions(ctx, 7); len(others) != 1 {
			t.Errorf("another user's sessions were touched: %v", handles(others))
		}
		all, _ := f.store.RevokeUser(ctx, 42, "")
		if len(all) != 1 {
			t.Errorf("RevokeUser without exception ended %d, want 1", len(all))
		}
	})

	t.Run("cursor pages visit every session once", func(t *testing.T) { testRegistryCursor(t, newFixture(t)) })

	t.Run("logout removes index entries", func(t *testing.T) {
		f := newFixture(t)
		if err := put(t, f.store, tok("tok-1", 42), newRecord(1, 42, "192.0.2.1", now), true); err != nil {
			t.Fatal(err)
		}
		if err := f.store.DeleteCtx(ctx, tok("tok-1", 42)); err != nil {
			t.Fatal(err)
		}
		if recs, _ := f.store.UserSessions(ctx, 42); len(recs) != 0 {
			t.Errorf("logged-out session still listed: %v", handles(recs))
		}
		if n := f.indexEntries(t); n != 0 {
			t.Errorf("%d index entries left after logout", n)
		}
	})

	t.Run("token renewal keeps the handle", func(t *testing.T) {
		f := newFixture(t)
		r := newRecord(1, 42, "192.0.2.1", now)
		if err := put(t, f.store, tok("old", 42), r, true); err != nil {
			t.Fatal(err)
		}
		if err := f.store.DeleteCtx(ctx, tok("old", 42)); err != nil {
			t.Fatal(err)
		}
		if err := put(t, f.store, tok("new", 42), r, true); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := f.store.Revoke(ctx, r.Handle); !found {
			t.Fatal("handle does not reach the renewed session")
		}
		if _, ok, _ := f.store.FindCtx(ctx, tok("new", 42)); ok {
			t.Error("revoke by handle left the renewed token working")
		}
	})

	t.Run("rotate moves the session and its index entries", func(t *testing.T) {
		f := newFixture(t)
		r := newRecord(1, 42, "192.0.2.1", now)
		if err := put(t, f.store, tok("old", 42), r, true); err != nil {
			t.Fatal(err)
		}
		before := f.indexEntries(t)
		if err := f.store.Rotate(ctx, tok("old", 42), tok("new", 42)); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := f.store.FindCtx(ctx, tok("old", 42)); ok {
			t.Error("old token still works after rotation")
		}
		if b, ok, _ := f.store.FindCtx(ctx, tok("new", 42)); !ok || string(b) != "data:"+tok("old", 42) {
			t.Errorf("new token: %q %v, want the old session's data", b, ok)
		}
		if n := f.indexEntries(t); n != before {
			t.Errorf("index entries %d → %d after rotation", before, n)
		}
		if recs, _ := f.store.UserSessions(ctx, 42); len(recs) != 1 || recs[0].Handle != r.Handle {
			t.Errorf("after rotation the user's sessions are %v", handles(recs))
		}
		if err := put(t, f.store, tok("new", 42), r, false); err != nil {
			t.Errorf("update of the rotated session: %v", err)
		}
		if _, found, _ := f.store.Revoke(ctx, r.Handle); !found {
			t.Fatal("revoke by handle misses the rotated session")
		}
		if err := f.store.Rotate(ctx, tok("new", 42), tok("newer", 42)); !errors.Is(err, ErrGone) {
			t.Errorf("rotating a revoked session: err = %v, want ErrGone", err)
		}
		if _, ok, _ := f.store.FindCtx(ctx, tok("newer", 42)); ok {
			t.Error("rotation of a revoked session created one")
		}
	})

	t.Run("a write without a record keeps the registry entry", func(t *testing.T) {
		f := newFixture(t)
		r := newRecord(1, 42, "192.0.2.1", now)
		if err := put(t, f.store, tok("tok", 42), r, true); err != nil {
			t.Fatal(err)
		}
		if err := f.store.CommitCtx(ctx, tok("tok", 42), []byte("plain"), r.Expiry); err != nil {
			t.Fatal(err)
		}
		if recs, _ := f.store.UserSessions(ctx, 42); len(recs) != 1 || recs[0].Handle != r.Handle {
			t.Errorf("after a plain update the user's sessions are %v, want [%s]", handles(recs), r.Handle)
		}
	})

	t.Run("refresh updates last seen and order", func(t *testing.T) {
		f := newFixture(t)
		a, b := newRecord(1, 42, "", now.Add(-time.Hour)), newRecord(2, 42, "", now.Add(-time.Minute))
		a.Expiry = b.Expiry
		_ = put(t, f.store, tok("a", 42), a, true)
		_ = put(t, f.store, tok("b", 42), b, true)
		a.LastSeen = now.Truncate(time.Millisecond)
		if err := put(t, f.store, tok("a", 42), a, false); err != nil {
			t.Fatal(err)
		}
		page, err := f.store.Sessions(ctx, Query{})
		if err != nil || len(page.Records) != 2 || page.Records[0].Handle != a.Handle || !page.Records[0].LastSeen.Equal(a.LastSeen) {
			t.Fatalf("after refresh: %v %v", handles(page.Records), err)
		}
	})

	t.Run("pages newest first with filters", func(t *testing.T) {
		f := newFixture(t)
		for i := range 7 {
			ip := "192.0.2.1"
			if i%2 == 1 {
				ip = "198.51.100.9"
			}
			r := newRecord(i, int64(1+i%3), ip, now.Add(time.Duration(i)*time.Second))
			if err := put(t, f.store, tok(fmt.Sprintf("tok-%d", i), r.UserID), r, true); err != nil {
				t.Fatal(err)
			}
		}
		var seen []string
		for off := 0; off < 7; off += 3 {
			page, err := f.store.Sessions(ctx, Query{Offset: off, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != 7 {
				t.Errorf("Total = %d, want 7", page.Total)
			}
			seen = append(seen, handles(page.Records)...)
		}
		want := []string{}
		for i := 6; i >= 0; i-- {
			want = append(want, newRecord(i, int64(1+i%3), "", now).Handle)
		}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("pages = %v\nwant %v", seen, want)
		}
		byIP, _ := f.store.Sessions(ctx, Query{IP: "198.51.100.9"})
		if byIP.Total != 3 || len(byIP.Records) != 3 {
			t.Errorf("IP filter: %d records, total %d; want 3", len(byIP.Records), byIP.Total)
		}
		byUser, _ := f.store.Sessions(ctx, Query{UserID: 1, Limit: 1, Offset: 1})
		if byUser.Total != 3 || len(byUser.Records) != 1 {
			t.Errorf("user filter page: %d records, total %d; want 1 of 3", len(byUser.Records), byUser.Total)
		}
	})

	t.Run("count by kind is exact after revoke, logout, rotation, expiry and sweep", func(t *testing.T) {
		f := newFixture(t)
		wantCounts := func(when string, browser, app int) {
			t.Helper()
			b, a, err := f.store.CountByKind(ctx)
			if err != nil {
				t.Fatalf("%s: CountByKind: %v", when, err)
			}
			if b != browser || a != app {
				t.Errorf("%s: CountByKind = %d browser, %d app; want %d, %d", when, b, a, browser, app)
			}
		}
		wantCounts("empty", 0, 0)
		var browsers, apps []Record
		for i := range 3 { // users 1, 2, 3: three buckets
			r := newRecord(i, int64(1+i), "192.0.2.1", now)
			if err := put(t, f.store, tok(fmt.Sprintf("browser-%d", i), r.UserID), r, true); err != nil {
				t.Fatal(err)
			}
			browsers = append(browsers, r)
		}
		for i := range 2 { // users 1 and 2
			r := newRecord(10+i, int64(1+i), "192.0.2.2", now)
			r.Kind, r.DeviceName, r.UserAgent = KindApp, "Pixel 9", "latch-app/1.0"
			if err := put(t, f.store, tok(fmt.Sprintf("app-%d", i), r.UserID), r, true); err != nil {
				t.Fatal(err)
			}
			apps = append(apps, r)
		}
		wantCounts("3 browser + 2 app sessions", 3, 2)
		// An update (a refresh) does not count a session twice.
		apps[0].LastSeen = now.Add(time.Second).Truncate(time.Millisecond)
		if err := put(t, f.store, tok("app-0", apps[0].UserID), apps[0], false); err != nil {
			t.Fatal(err)
		}
		// A rotation moves the app session, and its count, to the new token.
		if err := f.store.Rotate(ctx, tok("app-0", apps[0].UserID), tok("app-0b", apps[0].UserID)); err != nil {
			t.Fatal(err)
		}
		wantCounts("after a refresh and a rotation", 3, 2)
		if _, found, err := f.store.Revoke(ctx, apps[1].Handle); err != nil || !found {
			t.Fatalf("Revoke app session: %v %v", found, err)
		}
		wantCounts("after revoking an app session", 3, 1)
		// User 3's browser session expires: not counted as soon as it has
		// expired, swept or not.
		short := browsers[2]
		short.Expiry = time.Now().Add(150 * time.Millisecond)
		if err := put(t, f.store, tok("browser-2", short.UserID), short, false); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, a, err := f.store.CountByKind(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if b == 2 && a == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("5 s after a browser session expired: CountByKind = %d browser, %d app; want 2, 1", b, a)
			}
			time.Sleep(25 * time.Millisecond)
		}
		if n, err := f.store.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want 1 removed", n, err)
		}
		wantCounts("after the sweep", 2, 1)
		// Revoking a user's sessions ends the browser and the app session.
		if ended, err := f.store.RevokeUser(ctx, 1, ""); err != nil || len(ended) != 2 {
			t.Fatalf("RevokeUser = %v, %v; want 2 ended", handles(ended), err)
		}
		wantCounts("after revoking user 1", 1, 0)
		if err := f.store.DeleteCtx(ctx, tok("browser-1", browsers[1].UserID)); err != nil {
			t.Fatal(err)
		}
		wantCounts("after the last logout", 0, 0)
		// Reads drop the expired session's entries of the user and IP
		// indexes, which Sweep cannot find once Redis has expired the
		// session's hash (they name no live session in the meantime).
		if _, err := f.store.UserSessions(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.Sessions(ctx, Query{IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		if n := f.indexEntries(t); n != 0 {
			t.Errorf("%d index entries left", n)
		}
	})

	t.Run("expired sessions drop out and the sweep empties the indexes", func(t *testing.T) {
		f := newFixture(t)
		r := newRecord(1, 42, "192.0.2.1", now)
		r.Expiry = time.Now().Add(150 * time.Millisecond)
		if err := put(t, f.store, tok("tok-1", 42), r, true); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			recs, err := f.store.UserSessions(ctx, 42)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("expired session still listed after 5 s")
			}
			time.Sleep(25 * time.Millisecond)
		}
		if _, err := f.store.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := f.indexEntries(t); n != 0 {
			t.Errorf("%d index entries left after the sweep", n)
		}
	})
}

// BenchmarkRegistry100k fills a store with 100,000 active sessions (20,000
// users × 5; every tenth an app session) and measures the listing and
// counting calls the pages make, page 1,000 (50,000 sessions deep) both
// by offset and from a cursor.
func BenchmarkRegistry100k(b *testing.B) {
	for _, name := range []string{"redis", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			f := registryFixtures()[name](b)
			now := time.Now()
			fill(b, f.store, 100_000, now)
			ctx := context.Background()
			b.Run("UserSessions", func(b *testing.B) {
				for b.Loop() {
					recs, err := f.store.UserSessions(ctx, 777)
					if err != nil || len(recs) != 5 {
						b.Fatal(len(recs), err)
					}
				}
			})
			b.Run("Sessions first page", func(b *testing.B) {
				for b.Loop() {
					p, err := f.store.Sessions(ctx, Query{Limit: 50})
					if err != nil || len(p.Records) != 50 || p.Total != 100_000 {
						b.Fatal(len(p.Records), p.Total, err)
					}
				}
			})
			b.Run("Sessions first page, count bounded", func(b *testing.B) { // what the admin page asks
				for b.Loop() {
					p, err := f.store.Sessions(ctx, Query{Limit: 50, CountLimit: 1000})
					if err != nil || len(p.Records) != 50 || p.Total < 1001 {
						b.Fatal(len(p.Records), p.Total, err)
					}
				}
			})
			b.Run("Sessions page 1000", func(b *testing.B) {
				for b.Loop() {
					p, err := f.store.Sessions(ctx, Query{Limit: 50, Offset: 50_000})
					if err != nil || len(p.Records) != 50 {
						b.Fatal(len(p.Records), err)
					}
				}
			})
			b.Run("CountByKind", func(b *testing.B) { // the admin overview
				for b.Loop() {
					browser, app, err := f.store.CountByKind(ctx)
					if err != nil || browser != 90_000 || app != 10_000 {
						b.Fatal(browser, app, err)
					}
				}
			})
			// Page 1,000 from a cursor (Query.After the 50,000th session,
			// as the admin page's Next link asks; and back, Query.Before
			// the 50,051st): the same sessions as by offset.
			deep, err := f.store.Sessions(ctx, Query{Limit: 50, Offset: 49_950})
			if err != nil || len(deep.Records) != 50 {
				b.Fatal(len(deep.Records), err)
			}
			at := CursorOf(deep.Records[len(deep.Records)-1])
			byOffset, err := f.store.Sessions(ctx, Query{Limit: 50, Offset: 50_000})
			if err != nil || len(byOffset.Records) != 50 {
				b.Fatal(len(byOffset.Records), err)
			}
			b.Run("Sessions page 1000 after a cursor", func(b *testing.B) {
				for b.Loop() {
					p, err := f.store.Sessions(ctx, Query{Limit: 50, After: &at, CountLimit: 1000})
					if err != nil || len(p.Records) != 50 || p.Records[0].Handle != byOffset.Records[0].Handle {
						b.Fatal(len(p.Records), err)
					}
				}
			})
			after := CursorOf(byOffset.Records[0])
			b.Run("Sessions page 1000 before a cursor", func(b *testing.B) {
				for b.Loop() {
					p, err := f.store.Sessions(ctx, Query{Limit: 50, Before: &after, CountLimit: 1000})
					if err != nil || len(p.Records) != 50 || p.Records[49].Handle != at.Handle {
						b.Fatal(len(p.Records), err)
					}
				}
			})
			b.Run("Sessions by IP", func(b *testing.B) {
				for b.Loop() {
					p, err := f.store.Sessions(ctx, Query{IP: "10.0.3.7", Limit: 50})
					if err != nil || p.Total == 0 {
						b.Fatal(p.Total, err)
					}
				}
			})
		})
	}
}

func fill(b *testing.B, st Store, n int, now time.Time) {
	b.Helper()
	start := time.Now()
	for i := range n {
		r := newRecord(i, int64(i%20_000), fmt.Sprintf("10.0.%d.%d", i%7, i%250), now.Add(-time.Duration(i)*time.Millisecond))
		if i%10 == 0 {
			r.Kind, r.DeviceName = KindApp, "Pixel 9"
		}
		if err := put(b, st, tok(fmt.Sprintf("tok-%d", i), r.UserID), r, true); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %d sessions in %v", n, time.Since(start))
}
