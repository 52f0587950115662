package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redisconn/clustertest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
)

// BenchmarkAuthenticatedGET measures one signed-in, read-only request
// through the session middleware against real Redis, and counts the Redis
// commands it sends:
//
//	latch:          Latch's Manager and RedisStore (idle timeout 30m).
//	scs-redisstore: the textbook set-up from the scs README — LoadAndSave,
//	                scs/redisstore, IdleTimeout 30m — which writes the whole
//	                session on every request.
//	latch-cluster:  Latch on a Redis Cluster of 3 masters (1 replica each)
//	                started for the run; redis-cmds/op must equal latch's.
func BenchmarkAuthenticatedGET(b *testing.B) {
	b.Run("latch", func(b *testing.B) {
		pool, counter := sessiontest.CountingPool(b)
		benchLatchGET(b, pool, counter)
	})
	var cl *redisconn.Cluster // one cluster for the whole run, started on first use
	parent := b
	b.Run("latch-cluster", func(b *testing.B) {
		if cl == nil {
			cl, _ = clustertest.Start(parent)
		}
		src, counter := sessiontest.CountingSource(cl)
		benchLatchGET(b, src, counter)
	})

	b.Run("scs-redisstore", func(b *testing.B) {
		pool, counter := sessiontest.CountingPool(b)
		sm := scs.New()
		sm.Store = redisstore.NewWithPrefix(pool, sessiontest.Prefix(b))
		sm.IdleTimeout = 30 * time.Minute
		sm.Lifetime = 12 * time.Hour
		login := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				b.Fatal(err)
			}
			sm.Put(r.Context(), "uid", int64(1))
		}))
		read := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sm.GetInt64(r.Context(), "uid") != 1 {
				b.Fatal("not signed in")
			}
		}))
		benchGET(b, login, read, sm.Cookie.Name, counter)
	})
}

// benchLatchGET is the latch case of BenchmarkAuthenticatedGET on src,
// whose commands counter counts.
func benchLatchGET(b *testing.B, src sessiontest.Source, counter *sessiontest.Counter) {
	mgr := session.NewManager(session.Options{
		Store:       session.NewRedisStore(src, sessiontest.Prefix(b), time.Second),
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		RememberIdleTimeout: 336 * time.Hour, RememberAbsoluteTimeout: 720 * time.Hour,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) { b.Fatal(err) },
	})
	login := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.Login(r.Context(), 1, false); err != nil {
			b.Fatal(err)
		}
	}))
	read := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mgr.UserID(r.Context()) != 1 {
			b.Fatal("not signed in")
		}
	}))
	benchGET(b, login, read, mgr.CookieName(), counter)
}

func benchGET(b *testing.B, login, read http.Handler, cookieName string, counter *sessiontest.Counter) {
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if cookie == nil {
		b.Fatal("no session cookie after login")
	}
	counter.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/profile", nil)
		req.AddCookie(cookie)
		read.ServeHTTP(httptest.NewRecorder(), req)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(counter.Commands()))/float64(b.N), "redis-cmds/op")
}

// BenchmarkStore measures single store operations on real Redis.
func BenchmarkStore(b *testing.B) {
	pool := sessiontest.RedisPool(b)
	st := session.NewRedisStore(pool, sessiontest.Prefix(b), time.Second)
	data := make([]byte, 200)
	token := "bench-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	if err := st.CommitCtx(session.WithCreate(b.Context()), token, data, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.Run("find", func(b *testing.B) {
		for b.Loop() {
			if _, found, err := st.FindCtx(b.Context(), token); err != nil || !found {
				b.Fatal(found, err)
			}
		}
	})
	b.Run("update", func(b *testing.B) {
		for b.Loop() {
			if err := st.CommitCtx(b.Context(), token, data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create+delete", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tok := fmt.Sprintf("bench-%d", i)
			i++
			if err := st.CommitCtx(session.WithCreate(b.Context()), tok, data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			if err := st.DeleteCtx(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
