package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latch/latch/internal/config"
	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/throttle"
)

// withThrottle sets the throttle quotas and trusts 127.0.0.1 as a reverse
// proxy, so that each request can name its client IP in X-Forwarded-For.
func withThrottle(q throttle.Quotas) appOption {
	return func(c *config.Config) {
		c.Throttle = q
		_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
		c.TrustedProxies = []net.IPNet{*loopback}
	}
}

// postAs posts form to path as the client at ip (through the trusted proxy).
func (b *browser) postAs(ip, path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	return b.do(req)
}

// loginAs submits the login form as the client at ip.
func (b *browser) loginAs(ip, email, pw string) page {
	b.t.Helper()
	return b.postAs(ip, "/login", url.Values{"email": {email}, "password": {pw}})
}

// wantThrottled checks a 429 answer: Retry-After is whole seconds from 1 to
// max, and the page says the same number. It returns the seconds.
func wantThrottled(t *testing.T, p page, what string, max int) int {
	t.Helper()
	if p.status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429\n%s", what, p.status, p.body)
	}
	n, err := strconv.Atoi(p.header.Get("Retry-After"))
	if err != nil || n < 1 || n > max {
		t.Fatalf("%s: Retry-After %q, want whole seconds from 1 to %d", what, p.header.Get("Retry-After"), max)
	}
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	if want := fmt.Sprintf("Too many attempts. Try again in %d %s.", n, unit); !strings.Contains(p.body, want) {
		t.Errorf("%s: the page does not say %q", what, want)
	}
	return n
}

func wantLoggedIn(t *testing.T, p page, what string) {
	t.Helper()
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/profile" {
		t.Fatalf("%s: status %d Location %q, want 303 to /profile\n%s", what, p.status, p.header.Get("Location"), p.body)
	}
}

// TestThrottleSharedByInstances: two instances on one Redis count failures
// together, for existing and unknown accounts alike.
func TestThrottleSharedByInstances(t *testing.T) {
	for _, b := range backends[:2] { // the Redis ones
		t.Run(b.name, func(t *testing.T) {
			q := throttle.DefaultQuotas()
			q.AccountIP = throttle.Quota{Count: 3, Period: 30 * time.Minute}
			a := startApp(t, b, withThrottle(q))
			other := startAppWithConfig(t, a.cfg, a.clock)
			email, pw := a.newUser("Shared")
			const ip = "198.51.100.7"

			var waits []int
			for _, account := range []string{email, "nobody-" + email} {
				for i, inst := range []*testApp{a, a, other} {
					if p := inst.newBrowser().loginAs(ip, account, "wrong password"); p.status != http.StatusUnauthorized {
						t.Fatalf("%s: failure %d: status %d, want 401", account, i+1, p.status)
					}
				}
				for name, inst := range map[string]*testApp{"A": a, "B": other} {
					waits = append(waits, wantThrottled(t, inst.newBrowser().loginAs(ip, account, pw),
						fmt.Sprintf("%s on %s after 3 failures split over A and B", account, name), 600))
				}
			}
			for _, w := range waits[1:] {
				if d := w - waits[0]; d < -1 || d > 1 {
					t.Errorf("Retry-After differs between instances or between existing and unknown accounts: %v", waits)
				}
			}
			wantLoggedIn(t, other.newBrowser().loginAs("203.0.113.5", email, pw), "the owner from another IP")
		})
	}
}

// TestThrottleRetryAfterHonoured: a throttled client that waits Retry-After
// gets in; hammering meanwhile neither counts nor extends the wait. With
// Redis the wait is real (a 1-per-second quota); the embedded store runs on
// the test's clock.
func TestThrottleRetryAfterHonoured(t *testing.T) {
	for _, b := range []backend{backends[0], backends[2]} {
		t.Run(b.name, func(t *testing.T) {
			q := throttle.DefaultQuotas()
			q.AccountIP = throttle.Quota{Count: 1, Period: time.Second}
			ta := startApp(t, b, withThrottle(q))
			email, pw := ta.newUser("Patient")
			const ip = "198.51.100.7"
			br := ta.newBrowser()

			for round := range 2 { // limited twice in a row: still no lockout
				if p := br.loginAs(ip, email, "wrong password"); p.status != http.StatusUnauthorized {
					t.Fatalf("round %d: failure: status %d", round, p.status)
				}
				counted := time.Now() // the failure was counted before this
				wait := wantThrottled(t, br.loginAs(ip, email, pw), "right password right after a failure", 1)
				for range 20 {
					wantThrottled(t, br.loginAs(ip, email, pw), "hammering", wait)
				}
				if b.redis {
					time.Sleep(time.Until(counted.Add(time.Duration(wait)*time.Second + 50*time.Millisecond)))
				} else {
					ta.clock.Advance(time.Duration(wait) * time.Second)
				}
				wantLoggedIn(t, br.loginAs(ip, email, pw), fmt.Sprintf("round %d: after waiting Retry-After", round))
			}
		})
	}
}

// TestOwnerLogsInFromKnownIPDuringAttack runs on the default quotas: an
// attack from two IPs uses up the account's quota; the owner still signs
// in from the IP they used before, a new IP is asked to wait.
func TestOwnerLogsInFromKnownIPDuringAttack(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b, withThrottle(throttle.DefaultQuotas()))
			email, pw := ta.newUser("Owner")
			const home = "203.0.113.5"
			wantLoggedIn(t, ta.newBrowser().loginAs(home, email, pw), "the owner's first login")

			// The second IP's sixth try is refused by both its account+IP
			// quota (180 s) and the now spent account quota (360 s):
			// Retry-After is the longer wait, after which it would pass.
			for n, ip := range []string{"198.51.100.7", "198.51.100.8"} {
				attacker := ta.newBrowser()
				for i := range 5 {
					if p := attacker.loginAs(ip, email, fmt.Sprintf("guess %d", i)); p.status != http.StatusUnauthorized {
						t.Fatalf("attack from %s, guess %d: status %d, want 401", ip, i+1, p.status)
					}
				}
				wantThrottled(t, attacker.loginAs(ip, email, pw), "the attacker's sixth try, right password", []int{180, 360}[n])
			}
			wantThrottled(t, ta.newBrowser().loginAs("198.51.100.9", email, pw), "a third attacking IP", 360)

			owner := ta.newBrowser()
			wantLoggedIn(t, owner.loginAs(home, email, pw), "the owner from the known IP during the attack")
			if !owner.signedIn() {
				t.Error("the owner's session does not work")
			}
			wantThrottled(t, ta.newBrowser().loginAs("192.0.2.44", email, pw), "the owner from a new IP", 360)
		})
	}
}

// TestRegistrationThrottledPerIP: registrations count per client IP.
func TestRegistrationThrottledPerIP(t *testing.T) {
	q := throttle.DefaultQuotas()
	q.Register = throttle.Quota{Count: 2, Period: time.Hour}
	ta := startApp(t, backends[0], withThrottle(q))
	register := func(ip string, i int) page {
		return ta.newBrowser().postAs(ip, "/register", url.Values{
			"email": {fmt.Sprintf("reg%d-%d@example.com", i, time.Now().UnixNano())}, "name": {"Reg"},
			"password": {"correct horse battery staple"}})
	}
	for i := range 2 {
		if p := register("198.51.100.7", i); p.status != http.StatusSeeOther {
			t.Fatalf("registration %d: status %d\n%s", i+1, p.status, p.body)
		}
	}
	wantThrottled(t, register("198.51.100.7", 3), "third registration from one IP", 1800)
	if p := register("198.51.100.8", 4); p.status != http.StatusSeeOther {
		t.Errorf("registration from another IP: status %d, want 303", p.status)
	}
}

// TestHydraCannotGuess runs scripts/hydra.sh: two hydra attacks with the
// right password at line 400 of 500 do not find it, while the owner keeps
// signing in from a known IP, and a control run without throttling does.
// It needs hydra (Debian package hydra; scripts/test-env.sh installs it)
// and Redis; without them it skips, except under CI.
func TestHydraCannotGuess(t *testing.T) {
	if _, err := exec.LookPath("hydra"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("hydra is required under CI: %v", err)
		}
		t.Skipf("hydra not installed (apt-get install -y hydra): %v", err)
	}
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("about a minute: skipped with -short (never under CI)")
	}
	redisURL := sessiontest.RedisURL(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Building latch and the proxy from a cold cache takes minutes: run
	// this test binary as both (TestHydraHelperProcess).
	dir := t.TempDir()
	wrapper := func(name, mode string) string {
		path := filepath.Join(dir, name)
		script := fmt.Sprintf("#!/bin/sh\nLATCH_TEST_HELPER=%s exec %q -test.run='^TestHydraHelperProcess$' -test.timeout=10m -- \"$@\"\n", mode, self)
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "scripts", "hydra.sh"))
	cmd.Env = append(os.Environ(),
		"LATCH_BIN="+wrapper("latch", "latch"), "HYDRA_PROXY_BIN="+wrapper("hydraproxy", "hydraproxy"),
		"LATCH_TEST_REDIS_URL="+redisURL,
		// The race detector makes argon2 slow; the control run checks 400 passwords.
		"LATCH_ARGON2_MEMORY=64", "LATCH_ARGON2_TIME=1", "LATCH_ARGON2_PARALLELISM=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("scripts/hydra.sh (%v):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("scripts/hydra.sh: %v", err)
	}
	for _, want := range []string{"control: hydra FOUND the password", "0 valid password found", "PASS: hydra did not find the password"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestHydraHelperProcess is not a test: TestHydraCannotGuess runs this test
// binary as the latch command (LATCH_TEST_HELPER=latch) and as the hydra
// proxy of scripts/hydra.sh (LATCH_TEST_HELPER=hydraproxy), with the
// arguments after "--". Otherwise it does nothing.
func TestHydraHelperProcess(t *testing.T) {
	mode := os.Getenv("LATCH_TEST_HELPER")
	if mode == "" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	switch mode {
	case "latch":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	case "hydraproxy":
		hydraProxy(args[0])
	}
	os.Exit(2)
}

// hydraProxy is the proxy scripts/hydra.sh builds (the same few lines):
// it forwards everything to target unchanged, except that 401 becomes 200,
// since hydra's http-post-form module stops at a 401. It prints "listening
// ADDR" and serves until killed.
func hydraProxy(target string) {
	u, err := url.Parse(target)
	if err != nil {
		log.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.StatusCode == http.StatusUnauthorized {
			r.StatusCode, r.Status = http.StatusOK, "200 OK"
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening", ln.Addr())
	log.Fatal(http.Serve(ln, rp))
}

// TestStolenSessionCannotGuessThePassword: a signed-in session (say, a
// stolen cookie) that guesses the password through the sudo-mode prompt or
// the password-change form meets the same quotas as the login form.
func TestStolenSessionCannotGuessThePassword(t *testing.T) {
	q := throttle.DefaultQuotas()
	q.AccountIP = throttle.Quota{Count: 3, Period: time.Hour}
	ta := startApp(t, backends[0], withThrottle(q), func(c *config.Config) { c.ReauthWindow = time.Minute })
	email, pw := ta.newUser("Guarded")
	const ip = "198.51.100.9"
	thief := ta.newBrowser()
	if p := thief.loginAs(ip, email, pw); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	ta.clock.Advance(2 * time.Minute) // the password is no longer recent
	token := thief.csrfToken()

	guesses := []struct{ path, field string }{
		{"/sessions/revoke-others", "reauth_password"},
		{"/account/password", "current_password"},
	}
	statuses := []int{}
	for i := range 5 {
		g := guesses[i%len(guesses)]
		form := url.Values{"csrf_token": {token}, g.field: {fmt.Sprintf("guess number %d", i)}}
		if g.path == "/account/password" {
			form.Set("password", "a brand new long passphrase 42")
		}
		statuses = append(statuses, thief.postAs(ip, g.path, form).status)
	}
	if statuses[0] != http.StatusUnauthorized || statuses[3] != http.StatusTooManyRequests || statuses[4] != http.StatusTooManyRequests {
		t.Fatalf("statuses of 5 wrong guesses = %v, want 401 first and 429 once the quota of 3 is spent", statuses)
	}
	// The right password is refused too while limited: guessing gains nothing.
	p := thief.postAs(ip, "/sessions/revoke-others", url.Values{"csrf_token": {token}, "reauth_password": {pw}})
	wantThrottled(t, p, "right password through the prompt while limited", 3600)
}
