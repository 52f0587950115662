package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/redistest"
)

// End-to-end tests of Sentinel mode (issue 9): Latch wired by newApp, as
// `latch serve` runs it, on a redistest.SentinelRig (1 master, 2 replicas,
// 3 Sentinels, quorum 2), through failovers.

const rigMaster = "latch"

// startSentinelApp starts a rig and Latch in Sentinel mode on it.
func startSentinelApp(t *testing.T) (*redistest.SentinelRig, *testApp) {
	t.Helper()
	rig := redistest.StartSentinelRig(t, rigMaster)
	cfg := testConfig(t, backend{})
	cfg.RedisSentinel = config.RedisSentinel{Addrs: rig.SentinelAddrs(), Master: rigMaster}
	cfg.Redis = &config.Redis{} // Sentinel mode: no address of its own, as config.Load gives without LATCH_REDIS_URL
	cfg.RedisKeyPrefix = "latch:"
	return rig, startAppWithConfig(t, cfg, clocktest.New(time.Now()))
}

// sentinelCLI is the environment for the latch command on ta's stores.
func sentinelCLI(ta *testApp) cliEnv {
	return cliEnv{
		"LATCH_DATABASE_URL":          ta.cfg.DatabaseURL,
		"LATCH_REDIS_SENTINELS":       strings.Join(ta.cfg.RedisSentinel.Addrs, ","),
		"LATCH_REDIS_SENTINEL_MASTER": ta.cfg.RedisSentinel.Master,
		"LATCH_REDIS_KEY_PREFIX":      ta.cfg.RedisKeyPrefix,
	}
}

// attempt sends one request like browser.do, but returns a transport
// error instead of failing the test: the load loop must see everything.
func (b *browser) attempt(method, path string, form url.Values) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.app.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.app.srv.URL)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(data), resp: resp}, nil
}

// loadStep is one round of the load loop: a new browser logs in and reads
// its profile, and the browser signed in before the failover reads its
// profile. ok means all three succeeded; otherwise bad lists the answers
// that were neither a success nor a 503 with Retry-After.
type loadStep struct {
	at      time.Time
	ok      bool
	bad     []string
	loginOK *browser // the new browser, when its login succeeded
}

func runLoadStep(ta *testApp, email, pw string, before *browser) loadStep {
	s := loadStep{at: time.Now(), ok: true}
	check := func(what string, p page, err error, success func(page) bool) bool {
		switch {
		case err != nil:
			s.bad = append(s.bad, fmt.Sprintf("%s: %v", what, err))
		case success(p):
			return true
		case p.status == http.StatusServiceUnavailable && p.header.Get("Retry-After") != "":
		default:
			s.bad = append(s.bad, fmt.Sprintf("%s: %d %q (Retry-After %q)", what, p.status, p.header.Get("Location"), p.header.Get("Retry-After")))
		}
		s.ok = false
		return false
	}
	profile := func(p page) bool { return p.status == http.StatusOK && strings.Contains(p.body, "Sentinel") }
	nb := ta.newBrowser()
	p, err := nb.attempt(http.MethodPost, "/login", url.Values{"email": {email}, "password": {pw}})
	if check("login", p, err, func(p page) bool { return p.status == http.StatusSeeOther && p.header.Get("Location") == "/profile" }) {
		s.loginOK = nb
		p, err = nb.attempt(http.MethodGet, "/profile", nil)
		check("profile after login", p, err, profile)
	}
	p, err = before.attempt(http.MethodGet, "/profile", nil)
	check("profile of the session from before the failover", p, err, profile)
	return s
}

// failoverUnderLoad runs the load loop around trigger (a failover of the
// rig's master) and checks issue 9's promise: only 503s with Retry-After
// while the master changes, success again within 10 s of the new master's
// promotion, then 100 rounds in a row without a failure, and the session
// from before still works. It logs the measured failover window.
func failoverUnderLoad(t *testing.T, what string, trigger func(*redistest.SentinelRig)) {
	rig, ta := startSentinelApp(t)
	email, pw := ta.newUser("Sentinel")
	before := ta.newBrowser()
	before.login(email, pw, false)
	for i := range 20 {
		if s := runLoadStep(ta, email, pw, before); !s.ok {
			t.Fatalf("round %d before the failover failed: %v", i, s.bad)
		}
	}

	// Bounds of the loop, counted and timed: the failover must happen
	// within RigTimeout; success must resume within resumeBound of the
	// promotion (issue 9) and then hold for wantOK rounds.
	const (
		maxRounds   = 20000
		wantOK      = 100
		resumeBound = 10 * time.Second
	)
	old := rig.Master().Addr()
	start := time.Now()
	trigger(rig)
	var (
		promotedAt           time.Time
		firstFail, lastFail  time.Time
		failed, okInARow     int
		rounds               int
		lateFailures, badOne []string
		during               []loadStep // rounds whose login succeeded before 100 in a row did
	)
	for rounds = 1; rounds <= maxRounds; rounds++ {
		s := runLoadStep(ta, email, pw, before)
		if len(s.bad) > 0 && len(badOne) < 10 {
			badOne = append(badOne, fmt.Sprintf("+%v: %s", s.at.Sub(start).Round(time.Millisecond), strings.Join(s.bad, "; ")))
		}
		if promotedAt.IsZero() && rig.Promoted(old) {
			promotedAt = time.Now()
		}
		if s.loginOK != nil && okInARow < wantOK && len(during) < 1000 {
			during = append(during, s)
		}
		if s.ok {
			okInARow++
		} else {
			okInARow = 0
			failed++
			if firstFail.IsZero() {
				firstFail = s.at
			}
			lastFail = s.at
			// Pacing, not synchronisation: a failed round is fast, and the
			// loop is bounded by maxRounds.
			time.Sleep(5 * time.Millisecond)
			if !promotedAt.IsZero() && s.at.After(promotedAt.Add(resumeBound)) && len(lateFailures) < 5 {
				lateFailures = append(lateFailures, fmt.Sprintf("+%v after the promotion", s.at.Sub(promotedAt).Round(time.Millisecond)))
			}
		}
		if !promotedAt.IsZero() && okInARow >= wantOK {
			break
		}
		if promotedAt.IsZero() && time.Since(start) > redistest.RigTimeout {
			t.Fatalf("%s: no new master within %v", what, redistest.RigTimeout)
		}
		if !promotedAt.IsZero() && time.Since(promotedAt) > redistest.RigTimeout {
			t.Fatalf("%s: %d rounds in a row never succeeded within %v of the promotion (last failure %v)", what, wantOK,
				redistest.RigTimeout, lastFail.Sub(promotedAt))
		}
	}
	if rounds > maxRounds {
		t.Fatalf("%s: load loop ended after %d rounds without %d successes in a row", what, maxRounds, wantOK)
	}
	if len(badOne) > 0 {
		t.Errorf("%s: answers other than success or 503 with Retry-After:\n%s", what, strings.Join(badOne, "\n"))
	}
	if len(lateFailures) > 0 {
		t.Errorf("%s: failures later than %v after the new master's promotion: %v", what, resumeBound, lateFailures)
	}
	window := "no failed round"
	if failed > 0 {
		window = fmt.Sprintf("failed rounds from +%v to +%v after the trigger (%v long), the last one %v after the promotion was visible",
			firstFail.Sub(start).Round(time.Millisecond), lastFail.Sub(start).Round(time.Millisecond),
			lastFail.Sub(firstFail).Round(time.Millisecond), lastFail.Sub(promotedAt).Round(time.Millisecond))
	}
	t.Logf("%s failover window: %d rounds, %d failed (all 503 with Retry-After); new master visible +%v after the trigger; %s; then %d rounds in a row succeeded",
		what, rounds, failed, promotedAt.Sub(start).Round(time.Millisecond), window, okInARow)
	// Sessions created while the master changed are not covered by the
	// issue's promise (a write the old master took after the promotion is
	// lost with it); count them for the record.
	created, lost := 0, 0
	for _, s := range during {
		if !s.at.Before(lastFail) {
			continue // after the window
		}
		created++
		if p, err := s.loginOK.attempt(http.MethodGet, "/profile", nil); err != nil || p.status != http.StatusOK {
			lost++
		}
	}
	t.Logf("%s: %d of %d sessions created inside the failover window are gone afterwards", what, lost, created)
	if !before.signedIn() {
		t.Errorf("%s: the session from before the failover no longer works", what)
	}
	if m := rig.Master(); m == nil || m.Addr() == old {
		t.Errorf("%s: the master did not change", what)
	}
}

// TestSentinelFailoverUnderLoad: SENTINEL FAILOVER while a load loop logs
// in and reads pages (issue 9, Sentinel test (a)).
func TestSentinelFailoverUnderLoad(t *testing.T) {
	failoverUnderLoad(t, "SENTINEL FAILOVER", func(r *redistest.SentinelRig) { r.Failover() })
}

// TestSentinelMasterKilledUnderLoad: kill -9 of the master while a load
// loop logs in and reads pages (issue 9, Sentinel test (b)).
func TestSentinelMasterKilledUnderLoad(t *testing.T) {
	failoverUnderLoad(t, "kill -9", func(r *redistest.SentinelRig) { r.Master().Kill() })
}

// TestSentinelRevocationsSurviveFailover (issue 9, Sentinel test (c)):
// with both replicas frozen (SIGSTOP) a revocation cannot be made durable,
// so the web answers 503 and the CLI exits non-zero instead of claiming
// it, and a password change is refused (503) before it changes anything; with the replicas back, 100 revocations are acknowledged, the
// master is killed (kill -9), and after the failover all 100 sessions are
// still ended while the session that was not revoked works.
func TestSentinelRevocationsSurviveFailover(t *testing.T) {
	rig, ta := startSentinelApp(t)
	cli := sentinelCLI(ta)
	email, pw := ta.newUser("Sentinel")
	owner := ta.newBrowser()
	owner.login(email, pw, false)
	handles := func() map[string]bool {
		t.Helper()
		var list []sessionJSON
		out := cli.ok(t, "sessions", "list", "--json", "--user", email)
		if err := json.Unmarshal([]byte(out.stdout), &list); err != nil {
			t.Fatalf("sessions list --json: %v\n%s", err, out.stdout)
		}
		m := map[string]bool{}
		for _, s := range list {
			m[s.Handle] = true
		}
		return m
	}
	ownerHandles := handles()
	if len(ownerHandles) != 1 {
		t.Fatalf("%d sessions after one login, want 1", len(ownerHandles))
	}
	// loginVictims signs n more browsers in and returns them by handle.
	loginVictims := func(n int) map[string]*browser {
		t.Helper()
		known := handles()
		out := map[string]*browser{}
		for range n {
			b := ta.newBrowser()
			b.login(email, pw, false)
			for h := range handles() {
				if !known[h] {
					known[h], out[h] = true, b
				}
			}
		}
		return out
	}
	revokeWeb := func(handle string) page {
		t.Helper()
		return owner.post("/sessions/"+handle+"/revoke", url.Values{"csrf_token": {owner.csrfToken()}})
	}

	t.Run("frozen replicas", func(t *testing.T) {
		victims := loginVictims(2)
		replicas := rig.Replicas()
		for _, r := range replicas {
			r.Pause()
		}
		var web, byCLI string
		for h := range victims {
			if web == "" {
				web = h
			} else {
				byCLI = h
			}
		}
		p := revokeWeb(web)
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Errorf("web revoke with both replicas frozen: %d (Retry-After %q), want 503 with Retry-After", p.status, p.header.Get("Retry-After"))
		}
		out := cli.run(t, "", "sessions", "revoke", "--", byCLI)
		if out.code == exitOK || strings.Contains(out.stdout, "ended session") {
			t.Errorf("latch sessions revoke with both replicas frozen: exit %d, stdout %q; want a failure", out.code, out.stdout)
		}
		if !strings.Contains(out.stderr, "replica") {
			t.Errorf("latch sessions revoke: stderr %q does not say that no replica acknowledged", out.stderr)
		}
		// A password change ends the other sessions through the account's
		// state copy too: its hold must be durable, or the change refused.
		p = owner.post("/account/password", url.Values{"csrf_token": {owner.csrfToken()},
			"current_password": {pw}, "password": {"a different long pass phrase"}})
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Errorf("password change with both replicas frozen: %d (Retry-After %q), want 503 with Retry-After", p.status, p.header.Get("Retry-After"))
		}
		for _, r := range replicas {
			r.Resume()
		}
		rig.WaitSentinelsAgree(rig.Master().Addr())
		ta.newBrowser().login(email, pw, false) // the refused change left the password as it was
	})

	t.Run("100 revocations survive kill -9 of the master", func(t *testing.T) {
		keep := handles() // the sessions not revoked: they must all be there afterwards
		victims := loginVictims(100)
		if len(victims) != 100 {
			t.Fatalf("%d new sessions, want 100", len(victims))
		}
		for h := range victims {
			if p := revokeWeb(h); p.status != http.StatusSeeOther {
				t.Fatalf("revoke %s: %d, want 303\n%s", h, p.status, p.body)
			}
		}
		old := rig.Master()
		old.Kill()
		deadline := time.Now().Add(redistest.RigTimeout)
		for !rig.Promoted(old.Addr()) {
			if time.Now().After(deadline) {
				t.Fatalf("no new master within %v of kill -9", redistest.RigTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Latch follows by itself; poll until the owner's page answers.
		for {
			p, err := owner.attempt(http.MethodGet, "/profile", nil)
			if err == nil && p.status == http.StatusOK {
				break
			}
			if err == nil && p.status != http.StatusServiceUnavailable {
				t.Fatalf("owner after the failover: %d, want 200 (or 503 until Latch follows)", p.status)
			}
			if time.Now().After(deadline) {
				t.Fatalf("owner's page not back within %v", redistest.RigTimeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
		alive := 0
		for h, b := range victims {
			p := b.get("/profile")
			switch {
			case p.status == http.StatusOK:
				alive++
				t.Errorf("revoked session %s works again after the failover", h)
			case p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login"):
				t.Errorf("revoked session %s after the failover: %d, want 303 to /login", h, p.status)
			}
		}
		if left := handles(); !maps.Equal(left, keep) {
			t.Errorf("sessions listed after the failover: %v, want %v (those not revoked)", left, keep)
		}
		t.Logf("after kill -9 and failover: %d of %d revoked sessions work again", alive, len(victims))
	})
}

// TestSentinelServeProcess runs the real `latch serve` binary configured
// only by environment variables (LATCH_REDIS_SENTINELS,
// LATCH_REDIS_SENTINEL_MASTER, a data URL without a host): a session from
// before a SENTINEL FAILOVER works again after it without a restart.
func TestSentinelServeProcess(t *testing.T) {
	rig := redistest.StartSentinelRig(t, rigMaster)
	bin := buildLatch(t)
	env := map[string]string{
		"LATCH_DATABASE_URL":          "sqlite:" + t.TempDir() + "/latch.db",
		"LATCH_REDIS_SENTINELS":       strings.Join(rig.SentinelAddrs(), ","),
		"LATCH_REDIS_SENTINEL_MASTER": rigMaster,
		"LATCH_REDIS_URL":             "redis:///0",
		"LATCH_COOKIE_SECURE":         "false",
		"LATCH_ARGON2_MEMORY":         "64",
		"LATCH_ARGON2_TIME":           "1",
	}
	runLatch(t, bin, env, "", "migrate")
	base := startLatch(t, bin, env, "sentinel")
	email := fmt.Sprintf("sentinel-%d@example.com", time.Now().UnixNano())
	const pw = "correct horse battery staple"
	c := newProcClient(t, base)
	c.register(email, "Sentinel Process", pw)
	c.login(email, pw)
	if p := c.get("/profile"); p.status != http.StatusOK {
		t.Fatalf("profile before the failover: %d", p.status)
	}
	if keys, err := redis.Strings(rig.Master().Do("KEYS", "latch:{*}:s:*")); err != nil || len(keys) != 1 {
		t.Fatalf("session keys on the master: %v, %v; want one (sessions in Redis through the Sentinels)", keys, err)
	}
	old := rig.Master().Addr()
	rig.Failover()
	deadline := time.Now().Add(redistest.RigTimeout)
	for !rig.Promoted(old) {
		if time.Now().After(deadline) {
			t.Fatalf("no new master within %v", redistest.RigTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		p := c.get("/profile")
		if p.status == http.StatusOK {
			break
		}
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Fatalf("profile during the failover: %d (Retry-After %q), want 200 or 503 with Retry-After", p.status, p.header.Get("Retry-After"))
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile not back within %v", redistest.RigTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 20 {
		if p := c.get("/profile"); p.status != http.StatusOK {
			t.Fatalf("profile %d after the failover: %d", i, p.status)
		}
	}
}

// TestSentinelReplicasKilledRefusesRevocations: with both replicas killed
// (kill -9: the master lists no connected replica, so there is nothing to
// WAIT for) a revocation in Sentinel mode is refused, never reported as
// done, since a replica promoted later would not have it: a logout and a
// revoke on the web answer 503 with Retry-After and words that say the
// change may not have taken effect, a password change (its account-state
// hold) is refused with 503, and `latch sessions revoke` and `latch user
// disable` exit non-zero saying the same in plain words.
func TestSentinelReplicasKilledRefusesRevocations(t *testing.T) {
	rig, ta := startSentinelApp(t)
	cli := sentinelCLI(ta)
	email, pw := ta.newUser("SentinelOwner")
	// login signs a new browser in and returns it with its session's handle.
	known := map[string]bool{}
	login := func() (*browser, string) {
		t.Helper()
		b := ta.newBrowser()
		b.login(email, pw, false)
		var list []sessionJSON
		out := cli.ok(t, "sessions", "list", "--json", "--user", email)
		if err := json.Unmarshal([]byte(out.stdout), &list); err != nil {
			t.Fatalf("sessions list --json: %v\n%s", err, out.stdout)
		}
		handle := ""
		for _, s := range list {
			if !known[s.Handle] {
				known[s.Handle], handle = true, s.Handle
			}
		}
		if handle == "" {
			t.Fatal("a login added no session to the list")
		}
		return b, handle
	}
	owner, _ := login()
	victim, victimHandle := login()
	byCLI, cliHandle := login()
	other, otherPW := ta.newUser("SentinelOther")
	ta.newBrowser().login(other, otherPW, false)
	token := owner.csrfToken()

	for _, r := range rig.Replicas() {
		r.Kill()
	}
	deadline := time.Now().Add(redistest.RigTimeout)
	for {
		info, err := redis.String(rig.Master().Do("INFO", "replication"))
		if err == nil && strings.Contains(info, "connected_slaves:0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the master still lists replicas %v after both were killed:\n%s", redistest.RigTimeout, info)
		}
		time.Sleep(20 * time.Millisecond)
	}

	const words = "Latch could not confirm that a second Redis server has this change, so it may not have taken effect."
	refused := func(what string, p page) {
		t.Helper()
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Errorf("%s with both replicas killed: %d (Retry-After %q), want 503 with Retry-After", what, p.status, p.header.Get("Retry-After"))
		}
		if !strings.Contains(p.body, words) {
			t.Errorf("%s with both replicas killed: the page lacks %q:\n%s", what, words, p.body)
		}
	}
	// The password change first: it would end the other sessions, and
	// its account-state hold is refused before anything changes.
	refused("password change", owner.post("/account/password", url.Values{"csrf_token": {token},
		"current_password": {pw}, "password": {"a different long pass phrase"}}))
	refused("web revoke", owner.post("/sessions/"+victimHandle+"/revoke", url.Values{"csrf_token": {token}}))
	refused("logout", owner.post("/logout", url.Values{"csrf_token": {token}}))

	const cliWords = "could not confirm that a second Redis server has this change, so it may not have taken effect"
	for _, args := range [][]string{{"sessions", "revoke", "--", cliHandle}, {"user", "disable", other}} {
		out := cli.run(t, "", args...)
		if out.code == exitOK || strings.Contains(out.stdout, "ended") || strings.Contains(out.stdout, "disabled") {
			t.Errorf("latch %s with both replicas killed: exit %d, stdout %q; want a failure", strings.Join(args, " "), out.code, out.stdout)
		}
		if !strings.Contains(out.stderr, cliWords) {
			t.Errorf("latch %s: stderr %q lacks %q", strings.Join(args, " "), out.stderr, cliWords)
		}
	}
	// The master may have ended sessions before the WAIT was found
	// impossible; whatever it did, nothing above claimed it: record it.
	t.Logf("after the refused revocations: owner signed in %v, victim %v, CLI's target %v",
		owner.signedIn(), victim.signedIn(), byCLI.signedIn())
}
