package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redistest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/store/storetest"
)

// The harness's numbers are only as good as its counting and its seed;
// these tests pin both against real Redis, SQLite and PostgreSQL.

// cheap makes argon2id fast for tests; the harness itself uses Latch's defaults.
var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// TestMonitorCountsRoundTripsCommandStatsCountsCommands pins the difference
// the table relies on: a script with two inner commands plus a GET is two
// round trips (MONITOR) but four commands (INFO commandstats).
func TestMonitorCountsRoundTripsCommandStatsCountsCommands(t *testing.T) {
	ctx := t.Context()
	url := redistest.StartServer(t).URL() // a Redis of the test's own: INFO counts only its commands
	before, err := commandStats(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := startMonitor(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := redis.DialURLContext(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do("EVAL", "redis.call('SET', KEYS[1], '1') return redis.call('GET', KEYS[1])", 1, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do("GET", "k"); err != nil {
		t.Fatal(err)
	}
	trips, mix, err := mon.stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if trips != 2 || mix["eval"] != 1 || mix["get"] != 1 {
		t.Errorf("monitor: %d round trips %v, want 2 (eval 1, get 1)", trips, mix)
	}
	after, err := commandStats(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	// MONITOR and its ECHO end marker are the harness's, not counted.
	total, per := statsDelta(before, after)
	if total != 4 || per["eval"] != 1 || per["set"] != 1 || per["get"] != 2 {
		t.Errorf("commandstats delta: %d %v, want 4 (eval 1, set 1, get 2)", total, per)
	}
}

func TestReferencePageHasTheRequestedSize(t *testing.T) {
	for _, n := range []int{200, 5017, 100_000} {
		if got := len(referencePage(n)); got != n {
			t.Errorf("referencePage(%d): %d bytes", n, got)
		}
	}
}

// TestSeedDB checks that the in-database seed produces what the rows
// claim, as the store's own queries see it: the heavy account's events,
// the reader's, the bulk accounts', all users.
func TestSeedDB(t *testing.T) {
	for name, url := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "latch.db") },
		"postgres": func(t *testing.T) string { return storetest.PostgresURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			dbURL := url(t)
			hasher := password.NewHasher(cheap, 0, 0)
			shared, err := hasher.Hash(ctx, benchPassword)
			if err != nil {
				t.Fatal(err)
			}
			sz := sizes{Users: 50, Events: 1000, HeavyEvents: 300}
			s, err := seedDB(ctx, dbURL, sz, hasher, shared)
			if err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, n, err := db.Users(ctx, "", 0, 1); err != nil || n != sz.Users {
				t.Errorf("users: %d, %v; want %d", n, err, sz.Users)
			}
			if s.BulkUsers != sz.Users-5 {
				t.Errorf("bulk users %d, want %d", s.BulkUsers, sz.Users-5)
			}
			count := func(email string) int {
				t.Helper()
				u, err := db.UserByEmail(ctx, email)
				if err != nil {
					t.Fatal(err)
				}
				_, n, err := db.AuditEvents(ctx, audit.Filter{UserID: u.ID, Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := count(heavyEmail); n != sz.HeavyEvents {
				t.Errorf("heavy account: %d events, want %d", n, sz.HeavyEvents)
			}
			if n := count(readerEmail); n != readerEvents {
				t.Errorf("reader: %d events, want %d", n, readerEvents)
			}
			if n := count(emptyEmail); n != 0 {
				t.Errorf("empty account: %d events, want 0", n)
			}
			// 600 bulk events over 45 accounts: 13 or 14 each.
			if n := count(bulkEmail(7)); n < 13 || n > 14 {
				t.Errorf("bulk account 7: %d events, want 13 or 14", n)
			}
			// All events plus the two templates.
			if _, n, err := db.AuditEvents(ctx, audit.Filter{Limit: 1}); err != nil || n != sz.Events+2 {
				t.Errorf("all events: %d, %v; want %d", n, err, sz.Events+2)
			}
		})
	}
}

// TestSeedSessions checks that seeded sessions are listed by the registry
// like sessions made by a browser sign-in.
func TestSeedSessions(t *testing.T) {
	ctx := t.Context()
	url := redistest.StartServer(t).URL() // a Redis of the test's own: INFO counts only its commands
	if err := seedSessions(ctx, url, "latch:", 120, seeded{FirstBulkID: 10, BulkUsers: 40}); err != nil {
		t.Fatal(err)
	}
	// The bench's own throwaway Redis: no AUTH, no TLS, only a database.
	r, err := config.ParseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	pool := redisconn.NewPool(r.Addr, time.Second, redis.DialDatabase(r.DB))
	defer pool.Close()
	reg := session.NewRedisStore(pool, "latch:", time.Second)
	if p, err := reg.Sessions(ctx, session.Query{Limit: 1}); err != nil || p.Total != 120 {
		t.Errorf("registry lists %d sessions (%v), want 120", p.Total, err)
	}
	// 120 sessions over 40 accounts: 3 each.
	if recs, err := reg.UserSessions(ctx, 10); err != nil || len(recs) != 3 {
		t.Errorf("user 10 has %d sessions (%v), want 3", len(recs), err)
	}
}
