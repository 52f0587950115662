package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redisconn/clustertest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/store/storetest"
)

// storeFixture is one store under test plus a way to look at its raw
// contents, to prove that tokens are kept only as hashes.
type storeFixture struct {
	store session.Store
	// rawKeys returns every stored key (Redis key without prefix, or
	// token_hash column).
	rawKeys func(t *testing.T) []string
	// rawDump returns every stored key and value, concatenated.
	rawDump func(t *testing.T) []byte
}

func newRedisFixture(t *testing.T) storeFixture {
	pool := sessiontest.RedisPool(t)
	prefix := sessiontest.Prefix(t)
	return storeFixture{
		store: session.NewRedisStore(pool, prefix, 5*time.Second),
		rawKeys: func(t *testing.T) []string {
			return sessiontest.SessionHashes(sessiontest.RedisKeys(t, pool, prefix))
		},
		rawDump: func(t *testing.T) []byte {
			// DUMP serializes any key type: session hashes and indexes alike.
			var out []byte
			conn := pool.Get()
			defer conn.Close()
			for _, k := range sessiontest.RedisKeys(t, pool, prefix) {
				v, err := redis.Bytes(conn.Do("DUMP", prefix+k))
				if err != nil {
					t.Fatal(err)
				}
				out = append(append(out, k...), v...)
			}
			return out
		},
	}
}

// clusterFixture returns a fixture maker for RedisStores on one Redis
// Cluster (3 masters, 1 replica each) started for parent, each store
// under a prefix of its own.
func clusterFixture(parent *testing.T) func(t *testing.T) storeFixture {
	var src *redisconn.Cluster
	return func(t *testing.T) storeFixture {
		if src == nil {
			src, _ = clustertest.Start(parent)
		}
		prefix := sessiontest.Prefix(t)
		return storeFixture{
			store: session.NewRedisStore(src, prefix, 5*time.Second),
			rawKeys: func(t *testing.T) []string {
				return sessiontest.SessionHashes(clustertest.Keys(t, src, prefix))
			},
			rawDump: func(t *testing.T) []byte {
				var out []byte
				for _, k := range clustertest.Keys(t, src, prefix) {
					conn, err := src.GetContext(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					v, err := redis.Bytes(conn.Do("DUMP", prefix+k))
					conn.Close()
					if err != nil {
						t.Fatal(err)
					}
					out = append(append(out, k...), v...)
				}
				return out
			},
		}
	}
}

func newSQLiteFixture(t *testing.T) storeFixture {
	return sqlFixture(session.OpenTestDB(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db")))
}

func newPostgresFixture(t *testing.T) storeFixture {
	return sqlFixture(session.OpenTestDB(t, storetest.PostgresURL(t)))
}

func sqlFixture(db *store.DB) storeFixture {
	rows := func(t *testing.T) (keys []string, dump []byte) {
		rs, err := db.SQL().QueryContext(context.Background(), `SELECT token_hash, data FROM sessions`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		for rs.Next() {
			var k string
			var v []byte
			if err := rs.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
			dump = append(append(dump, k...), v...)
		}
		return keys, dump
	}
	return storeFixture{
		store:   session.NewSQLStore(db.SQL(), db.Dialect(), 5*time.Second),
		rawKeys: func(t *testing.T) []string { k, _ := rows(t); return k },
		rawDump: func(t *testing.T) []byte { _, d := rows(t); return d },
	}
}

// TestStoreContract runs one suite against every session store Latch has.
func TestStoreContract(t *testing.T) {
	for name, newFixture := range map[string]func(*testing.T) storeFixture{
		"redis":         newRedisFixture,
		"redis-cluster": clusterFixture(t),
		"sqlite":        newSQLiteFixture,
		"postgres":      newPostgresFixture,
	} {
		t.Run(name, func(t *testing.T) { testStoreContract(t, newFixture) })
	}
}

func testStoreContract(t *testing.T, newFixture func(*testing.T) storeFixture) {
	const token = "tok_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	future := func() time.Time { return time.Now().Add(time.Hour) }
	create := session.WithCreate

	t.Run("find missing", func(t *testing.T) {
		f := newFixture(t)
		_, found, err := f.store.FindCtx(t.Context(), token)
		if err != nil || found {
			t.Fatalf("FindCtx = found %v, err %v; want not found, nil", found, err)
		}
	})

	t.Run("create then find", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.CommitCtx(create(t.Context()), token, []byte("data-1"), future()); err != nil {
			t.Fatal(err)
		}
		b, found, err := f.store.FindCtx(t.Context(), token)
		if err != nil || !found || string(b) != "data-1" {
			t.Fatalf("FindCtx = %q, %v, %v; want data-1, true, nil", b, found, err)
		}
	})

	t.Run("update existing", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.CommitCtx(create(t.Context()), token, []byte("v1"), future()); err != nil {
			t.Fatal(err)
		}
		if err := f.store.CommitCtx(t.Context(), token, []byte("v2"), future()); err != nil {
			t.Fatalf("update: %v", err)
		}
		b, _, _ := f.store.FindCtx(t.Context(), token)
		if string(b) != "v2" {
			t.Fatalf("after update got %q, want v2", b)
		}
	})

	t.Run("update of missing session is refused", func(t *testing.T) {
		f := newFixture(t)
		err := f.store.CommitCtx(t.Context(), token, []byte("v"), future())
		if !errors.Is(err, session.ErrGone) {
			t.Fatalf("update of a never-created session: err = %v, want ErrGone", err)
		}
		if _, found, _ := f.store.FindCtx(t.Context(), token); found {
			t.Fatal("update-only commit created a session")
		}
	})

	t.Run("deleted session cannot be resurrected", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.CommitCtx(create(t.Context()), token, []byte("v1"), future()); err != nil {
			t.Fatal(err)
		}
		if err := f.store.DeleteCtx(t.Context(), token); err != nil {
			t.Fatal(err)
		}
		// A request that loaded the session before the delete now commits.
		err := f.store.CommitCtx(t.Context(), token, []byte("stale"), future())
		if !errors.Is(err, session.ErrGone) {
			t.Fatalf("commit after delete: err = %v, want ErrGone", err)
		}
		if _, found, _ := f.store.FindCtx(t.Context(), token); found {
			t.Fatal("a deleted session came back")
		}
	})

	t.Run("delete missing is not an error", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.DeleteCtx(t.Context(), token); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("expiry in the past deletes", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.CommitCtx(create(t.Context()), token, []byte("v1"), future()); err != nil {
			t.Fatal(err)
		}
		if err := f.store.CommitCtx(t.Context(), token, []byte("v2"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := f.store.FindCtx(t.Context(), token); found {
			t.Fatal("session with a past expiry is still found")
		}
	})

	t.Run("expired session is not found", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.CommitCtx(create(t.Context()), token, []byte("v1"), time.Now().Add(50*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, found, err := f.store.FindCtx(t.Context(), token)
			if err != nil {
				t.Fatal(err)
			}
			if !found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("session still found 5s after its expiry")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("keys are token hashes and the raw token is stored nowhere", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.CommitCtx(create(t.Context()), token, []byte("v1"), future()); err != nil {
			t.Fatal(err)
		}
		keys := f.rawKeys(t)
		if len(keys) != 1 || keys[0] != session.HashToken(token) {
			t.Fatalf("stored keys = %q, want [%s]", keys, session.HashToken(token))
		}
		if bytes.Contains(f.rawDump(t), []byte(token)) {
			t.Fatal("raw token found in the store")
		}
	})

	t.Run("binary data round trips", func(t *testing.T) {
		f := newFixture(t)
		data := []byte{0, 1, 2, 255, '\n', 0}
		if err := f.store.CommitCtx(create(t.Context()), token, data, future()); err != nil {
			t.Fatal(err)
		}
		b, _, _ := f.store.FindCtx(t.Context(), token)
		if !bytes.Equal(b, data) {
			t.Fatalf("got %v, want %v", b, data)
		}
	})

	t.Run("concurrent updates and a delete: the delete wins", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.CommitCtx(create(t.Context()), token, []byte("v0"), future()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Go(func() {
				err := f.store.CommitCtx(t.Context(), token, fmt.Appendf(nil, "v%d", i), future())
				if err != nil && !errors.Is(err, session.ErrGone) {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if err := f.store.DeleteCtx(t.Context(), token); err != nil {
			t.Fatal(err)
		}
		if err := f.store.CommitCtx(t.Context(), token, []byte("late"), future()); !errors.Is(err, session.ErrGone) {
			t.Fatalf("late writer: err = %v, want ErrGone", err)
		}
	})

	t.Run("canceled context fails with ErrUnavailable", func(t *testing.T) {
		f := newFixture(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := f.store.FindCtx(ctx, token)
		if !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("FindCtx with canceled ctx: err = %v, want ErrUnavailable", err)
		}
		if !strings.Contains(err.Error(), "session") {
			t.Fatalf("error lacks context: %v", err)
		}
	})
}
