package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/redistest"
	"github.com/latch/latch/internal/session/sessiontest"
)

// TestClusterAnyInstanceServesAnyRequest: two Latch instances on one
// Redis Cluster (LATCH_REDIS_CLUSTER, 3 masters + 1 replica each) and one
// database: a login on one works on the other, and a logout on the other
// is final on both.
func TestClusterAnyInstanceServesAnyRequest(t *testing.T) {
	rig := redistest.StartCluster(t, 3, 1)
	cfg := testConfig(t, backend{name: "sqlite+cluster"})
	cfg.RedisCluster = rig.Addrs()[:1] // one node is enough: the rest is learned from it
	cfg.RedisKeyPrefix = sessiontest.Prefix(t)
	clock := clocktest.New(time.Now())
	a := startAppWithConfig(t, cfg, clock)
	b := startAppWithConfig(t, cfg, clock)

	br := a.newBrowser()
	br.register("ada@example.com", "Ada Lovelace", "correct horse battery staple")
	br.login("ada@example.com", "correct horse battery staple", false)
	old := br.sessionCookie()
	if p := br.get("/profile"); p.status != http.StatusOK {
		t.Fatalf("GET /profile on the instance that signed in: %d", p.status)
	}
	onB := br.on(b)
	if p := onB.get("/profile"); p.status != http.StatusOK {
		t.Fatalf("GET /profile on the other instance: %d", p.status)
	}
	if p := onB.post("/logout", url.Values{"csrf_token": {onB.csrfToken()}}); p.status != http.StatusSeeOther {
		t.Fatalf("logout on the other instance: %d", p.status)
	}
	for _, inst := range []*testApp{a, b} {
		replay := inst.newBrowser()
		replay.client.Jar.SetCookies(mustParseURL(t, inst.srv.URL), []*http.Cookie{old})
		if replay.signedIn() {
			t.Error("the logged-out session still works")
		}
	}
}
