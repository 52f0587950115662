package session_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mna/redisc"

	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/redisconn/clustertest"
	"github.com/latch/latch/internal/redistest"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
)

// clusterHarness is newHarness on a Redis Cluster of 3 masters with one
// replica each, started for this test.
func clusterHarness(t *testing.T, adjust ...func(*session.Options)) (*harness, *redisconn.Cluster, *redistest.Cluster) {
	t.Helper()
	cl, rig := clustertest.Start(t)
	src, counter := sessiontest.CountingSource(cl)
	prefix := sessiontest.Prefix(t)
	keys := func() []string { return sessiontest.SessionHashes(clustertest.Keys(t, cl, prefix)) }
	h := newHarnessOn(t, src, counter, prefix, keys, adjust...)
	h.prefix = prefix
	return h, cl, rig
}

// TestClusterAuthenticatedGETCostsOneRedisCommand: on a cluster the hot
// path is the same one script as on a single Redis, sent to the right
// master at once (no MOVED or ASK on any node).
func TestClusterAuthenticatedGETCostsOneRedisCommand(t *testing.T) {
	h, _, rig := clusterHarness(t)
	for uid := 1; uid <= 12; uid++ { // users in buckets on every master
		c := h.client()
		h.login(c, uid, false)
		h.whoami(c) // the first find on each master loads the script (NOSCRIPT, EVAL)
		h.counter.Reset()
		rejected := clustertest.RejectedCalls(t, rig)
		resp, body := h.do(c, "GET", "/whoami")
		if body != strconv.Itoa(uid) {
			t.Fatalf("whoami = %s, want %d", body, uid)
		}
		if diff := cmp.Diff([]string{"EVALSHA"}, h.counter.Commands()); diff != "" {
			t.Errorf("user %d: commands of a steady-state authenticated GET (-want +got):\n%s", uid, diff)
		}
		if n := clustertest.RejectedCalls(t, rig) - rejected; n != 0 {
			t.Errorf("user %d: %d commands redirected or refused by the cluster", uid, n)
		}
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("steady-state GET re-sent the cookie: %q", sc)
		}
	}
}

// TestClusterFollowsAskAndMoved moves the slot of a signed-in user's
// bucket to another master by hand, as `redis-cli --cluster reshard`
// does: while the session key alone has moved the client is sent on with
// ASK, after the slot has moved with MOVED; the session works throughout.
func TestClusterFollowsAskAndMoved(t *testing.T) {
	h, _, rig := clusterHarness(t)
	const uid = 5
	c := h.client()
	h.login(c, uid, false)
	if got := h.whoami(c); got != "5" {
		t.Fatalf("whoami = %s", got)
	}
	slot := redisc.Slot("{" + strconv.Itoa(uid%session.RedisBuckets) + "}")
	from := rig.OwnerOf(slot)
	var to *redistest.Process
	for _, m := range rig.Masters() {
		if m != from {
			to = m
			break
		}
	}
	fromID, toID := redistest.ID(t, from), redistest.ID(t, to)
	mustDo(t, to, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID)
	mustDo(t, from, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID)

	keys := h.keys()
	if len(keys) != 1 {
		t.Fatalf("stored sessions = %v, want 1", keys)
	}
	sessionKey := h.prefix + "{" + strconv.Itoa(uid%session.RedisBuckets) + "}:s:" + keys[0]
	mustDo(t, from, "MIGRATE", "127.0.0.1", to.Port, "", 0, 5000, "KEYS", sessionKey)
	rejected := clustertest.RejectedCalls(t, rig)
	if got := h.whoami(c); got != "5" {
		t.Errorf("during the migration (ASK) whoami = %q, want 5", got)
	}
	if clustertest.RejectedCalls(t, rig) == rejected {
		t.Error("the find was not redirected: the test did not exercise ASK")
	}

	for {
		rest, err := redisStrings(from.Do("CLUSTER", "GETKEYSINSLOT", slot, 100))
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) == 0 {
			break
		}
		args := []any{"127.0.0.1", to.Port, "", 0, 5000, "KEYS"}
		for _, k := range rest {
			args = append(args, k)
		}
		mustDo(t, from, "MIGRATE", args...)
	}
	for _, m := range rig.Masters() {
		mustDo(t, m, "CLUSTER", "SETSLOT", slot, "NODE", toID)
	}
	rejected = clustertest.RejectedCalls(t, rig)
	if got := h.whoami(c); got != "5" {
		t.Errorf("after the slot moved (MOVED) whoami = %q, want 5", got)
	}
	if clustertest.RejectedCalls(t, rig) == rejected {
		t.Error("the find was not redirected: the test did not exercise MOVED")
	}
	// The slot map is now refreshed: the next request goes straight there.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rejected = clustertest.RejectedCalls(t, rig)
		if got := h.whoami(c); got != "5" {
			t.Fatalf("whoami = %q, want 5", got)
		}
		if clustertest.RejectedCalls(t, rig) == rejected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("requests still redirected 10 s after the slot moved")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterFailoverLosesNoRevocation: while a loop keeps signing in,
// (a) a manual failover (CLUSTER FAILOVER on a replica) and (b) kill -9
// of a master: sessions revoked before each stay revoked after it,
// sessions not revoked keep working, and logins succeed again without
// restarting anything. Durability of a revocation acknowledged just
// before kill -9 rests on the store waiting for a replica (WAIT, issue
// 9's Sentinel part); here the revocations precede the kill.
func TestClusterFailoverLosesNoRevocation(t *testing.T) {
	h, cl, rig := clusterHarness(t)
	refreshes := &topologyCounter{}
	cl.Observe(refreshes)
	const users = 60
	clients := make([]*http.Client, users+1)
	for uid := 1; uid <= users; uid++ {
		clients[uid] = ownClient(h)
		h.login(clients[uid], uid, false)
	}

	// The load loop: fresh logins and a page each, until stop.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, unavailable, other atomic.Int64
	wg.Add(1)
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad() // also when the test fails: the server cannot close under a running loop
	go func() {
		defer wg.Done()
		for uid := 1000; ; uid++ {
			select {
			case <-stop:
				return
			default:
			}
			c := ownClient(h)
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/login?uid=%d", h.srv.URL, uid), nil)
			resp, err := c.Do(req)
			if err != nil {
				other.Add(1)
				continue
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusSeeOther:
				ok.Add(1)
			case http.StatusServiceUnavailable:
				unavailable.Add(1)
			default:
				other.Add(1)
			}
		}
	}()

	// answer returns whoami for client c, polling past 503s (a failover
	// window) for at most 20 s.
	answer := func(c *http.Client) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, body := h.do(c, "GET", "/whoami")
			if resp.StatusCode == http.StatusOK {
				return body
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("whoami: status %d %q", resp.StatusCode, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	logout := func(c *http.Client) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, body := h.do(c, "POST", "/logout")
			if resp.StatusCode == http.StatusNoContent {
				return
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("logout: status %d %q", resp.StatusCode, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	check := func(phase string, revokedUpTo int) {
		t.Helper()
		for uid := 1; uid <= users; uid++ {
			want := strconv.Itoa(uid)
			if uid <= revokedUpTo {
				want = "0"
			}
			if got := answer(clients[uid]); got != want {
				t.Errorf("%s: user %d: whoami = %s, want %s", phase, uid, got, want)
			}
		}
	}

	// (a) Manual failover of one master to its replica.
	for uid := 1; uid <= 20; uid++ {
		logout(clients[uid])
	}
	master := rig.Masters()[0]
	replica := rig.ReplicaOf(master)
	began := time.Now()
	mustDo(t, replica, "CLUSTER", "FAILOVER")
	waitRole(t, replica, "master")
	rig.WaitOK()
	check("after CLUSTER FAILOVER", 20)
	t.Logf("CLUSTER FAILOVER: every session answered again %v after the command", time.Since(began).Round(time.Millisecond))

	// (b) kill -9 of a master.
	for uid := 21; uid <= 40; uid++ {
		logout(clients[uid])
	}
	victim := rig.Masters()[1]
	promoted := rig.ReplicaOf(victim)
	began = time.Now()
	victim.Kill()
	waitRole(t, promoted, "master")
	promotedAfter := time.Since(began)
	rig.WaitOK()
	check("after kill -9 of a master", 40)
	t.Logf("kill -9: replica promoted after %v, every session answered again after %v",
		promotedAfter.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	// The dead master's failures made the client reload the slot map, and
	// the observer (latch_redis_topology_changes_total) was told.
	if n := refreshes.count(redisconn.TopologySlotsRefreshed); n < 1 {
		t.Errorf("%d slot map reloads reported after kill -9 of a master, want at least 1", n)
	}

	// Logins succeed again, without restarting anything.
	for uid := 5000; uid < 5020; uid++ {
		c := ownClient(h)
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, _ := h.do(c, "POST", fmt.Sprintf("/login?uid=%d", uid))
			if resp.StatusCode == http.StatusSeeOther {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("login after the failovers: status %d", resp.StatusCode)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := answer(c); got != strconv.Itoa(uid) {
			t.Errorf("new login %d: whoami = %s", uid, got)
		}
	}
	stopLoad()
	t.Logf("load loop: %d logins, %d answered 503 during failovers, %d other", ok.Load(), unavailable.Load(), other.Load())
	if other.Load() != 0 {
		t.Errorf("%d logins failed otherwise than with 503", other.Load())
	}
	if ok.Load() == 0 {
		t.Error("the load loop made no login")
	}
}

// ownClient returns a client of h's server with a cookie jar of its own
// (h.client reconfigures the server's one shared client) that does not
// follow redirects.
func ownClient(h *harness) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport:     h.srv.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// waitRole polls until p reports role (at most redistest.ClusterTimeout).
func waitRole(t *testing.T, p *redistest.Process, role string) {
	t.Helper()
	deadline := time.Now().Add(redistest.ClusterTimeout)
	for redistest.Role(p) != role {
		if time.Now().After(deadline) {
			nodes, _ := p.Do("CLUSTER", "NODES")
			info, _ := p.Do("INFO", "replication")
			t.Fatalf("%s is not %s after %v; it sees:\n%s\n%s", p.Addr(), role, redistest.ClusterTimeout, nodes, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustDo(t *testing.T, p *redistest.Process, cmd string, args ...any) {
	t.Helper()
	if _, err := p.Do(cmd, args...); err != nil {
		t.Fatalf("%s %v on %s: %v", cmd, args, p.Addr(), err)
	}
}

func redisStrings(v any, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		b, _ := it.([]byte)
		out = append(out, string(b))
	}
	return out, nil
}

// topologyCounter is a redisconn.TopologyObserver that counts by kind.
type topologyCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *topologyCounter) RedisTopologyChange(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[kind]++
}

func (c *topologyCounter) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[kind]
}
