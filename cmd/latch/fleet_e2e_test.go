package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latch/latch/internal/session/sessiontest"
	"github.com/latch/latch/internal/store/storetest"
)

// The production topology of issue 9 as processes on loopback ports: 3
// `latch serve` processes (the real binary) sharing one PostgreSQL and one
// Redis, behind Debian's HAProxy configured by deploy/haproxy.cfg (round
// robin, no stickiness, health checks on GET /readyz).

// TestFleetBehindHAProxy: any instance serves any request (a login on one,
// the next page on another, a logout on a third is final on all), and a
// rolling restart of all 3 under a steady load through HAProxy fails no
// request at the client.
func TestFleetBehindHAProxy(t *testing.T) {
	haproxy := haproxyBin(t)
	redisURL := sessiontest.RedisURL(t)
	dbURL := storetest.PostgresURL(t)
	bin := buildLatch(t)
	env := map[string]string{
		"LATCH_DATABASE_URL":     dbURL,
		"LATCH_REDIS_URL":        redisURL,
		"LATCH_REDIS_KEY_PREFIX": sessiontest.Prefix(t),
		"LATCH_COOKIE_SECURE":    "false",
		"LATCH_ARGON2_MEMORY":    "64",
		"LATCH_ARGON2_TIME":      "1",
		"LATCH_TRUSTED_PROXIES":  "127.0.0.1/32", // HAProxy (and, here, the test itself)
		// Above HAProxy's detection time with the test's check timing
		// (fall 2 × inter 100ms, each check answered at once) with a wide
		// margin for a busy machine.
		"LATCH_SHUTDOWN_DRAIN": "2s",
	}
	runLatch(t, bin, env, "", "migrate")

	var fleet []*latchProc
	for i := 1; i <= 3; i++ {
		p := &latchProc{t: t, bin: bin, env: env, name: fmt.Sprintf("latch%d", i), addr: freeLoopbackAddr(t)}
		p.start()
		fleet = append(fleet, p)
	}
	lb := startHAProxy(t, haproxy, fleet, nil)
	// A second balancer over the same fleet that never retries a request
	// on another instance: only the drain (readyz 503 while still serving)
	// can keep its clients from seeing a stopped instance.
	strict := startHAProxy(t, haproxy, fleet, map[string]string{"retries": "    retries 0"})
	for _, p := range fleet {
		lb.waitStatus(p.name, "UP")
		strict.waitStatus(p.name, "UP")
	}

	email := fmt.Sprintf("fleet-%d@example.com", time.Now().UnixNano())
	const pw = "correct horse battery staple"
	newProcClient(t, lb.url).register(email, "Fleet Person", pw)

	t.Run("any instance serves any request", func(t *testing.T) {
		// Directly on each instance, with one cookie jar (a browser's, as
		// the balancer would route it): login on 1, the next page on 2,
		// logout on 3.
		c := newProcClient(t, fleet[0].url())
		c.login(email, pw)
		on2 := c.on(fleet[1].url())
		p := on2.get("/profile")
		if p.status != http.StatusOK || !strings.Contains(p.body, "Fleet Person") {
			t.Fatalf("profile on latch2 after login on latch1: %d, want 200 with the profile", p.status)
		}
		on3 := c.on(fleet[2].url())
		if p := on3.post("/logout", url.Values{"csrf_token": {csrfOf(t, p.body)}}); p.status != http.StatusSeeOther {
			t.Fatalf("logout on latch3: %d, want 303\n%s", p.status, p.body)
		}
		bases := map[string]string{"haproxy": lb.url}
		for _, inst := range fleet {
			bases[inst.name] = inst.url()
		}
		for name, base := range bases {
			if p := c.on(base).get("/profile"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
				t.Errorf("profile on %s after logout on latch3: %d %q, want 303 to /login", name, p.status, p.header.Get("Location"))
			}
		}

		// Through the balancer: round robin without stickiness spreads one
		// session's pages over all 3 instances, and each answer carries the
		// request ID HAProxy made (a trusted proxy), which the instance logged.
		before := lb.served()
		c = newProcClient(t, lb.url)
		c.login(email, pw)
		const pages = 9
		var ids []string
		for i := range pages {
			p := c.get("/profile")
			if p.status != http.StatusOK || !strings.Contains(p.body, "Fleet Person") {
				t.Fatalf("profile %d through HAProxy: %d, want 200", i, p.status)
			}
			ids = append(ids, p.header.Get("X-Request-ID"))
		}
		after := lb.served()
		for _, inst := range fleet {
			if after[inst.name] <= before[inst.name] {
				t.Errorf("%s served none of %d pages of one session through HAProxy (served before %v, after %v)",
					inst.name, pages, before, after)
			}
		}
		uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
		for _, id := range ids {
			if !uuid.MatchString(strings.ToLower(id)) {
				t.Errorf("X-Request-ID %q through HAProxy, want HAProxy's uuid()", id)
				continue
			}
			// The request line is written once the handler has returned,
			// which may be just after the client has the answer: poll.
			logged := false
			for deadline := time.Now().Add(10 * time.Second); !logged && time.Now().Before(deadline); {
				for _, inst := range fleet {
					logged = logged || strings.Contains(inst.logs.String(), `"request_id":"`+id+`"`)
				}
				if !logged {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if !logged {
				t.Errorf("no instance logged a request line with request_id %s", id)
			}
		}
	})

	for _, tc := range []struct {
		name string
		lb   *haproxyProc
	}{
		{"rolling restart under load", lb},
		{"rolling restart under load, balancer without retries", strict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range fleet {
				tc.lb.waitStatus(p.name, "UP")
			}
			res := rollingRestart(t, tc.lb, fleet, email, pw)
			t.Logf("%s: %d instances restarted one by one, %d requests, %d failed", tc.name, len(fleet), res.requests, res.failed)
			if res.failed != 0 {
				t.Errorf("%d of %d requests failed during the rolling restart, want 0; first failures:\n%s",
					res.failed, res.requests, strings.Join(res.failures, "\n"))
			}
			for _, p := range fleet {
				if !strings.Contains(p.shutdownLog, `"readyz_checked":true`) || !strings.Contains(p.shutdownLog, `"msg":"shut down"`) {
					t.Errorf("%s did not drain and shut down cleanly:\n%s", p.name, p.shutdownLog)
				}
			}
		})
	}
}

// loadResult counts the load loop's requests and failures.
type loadResult struct {
	requests, failed int64
	failures         []string // the first few, for the failure message
}

// rollingRestart runs a steady, bounded load loop through the balancer (4
// signed-in clients, each a profile page every 10ms and, every 20th
// request, a logout and a new login) while each instance in turn gets
// SIGTERM, exits (status 0), is started again and is seen UP by HAProxy.
// Any status other than the expected one, or a transport error, is a
// failure.
func rollingRestart(t *testing.T, lb *haproxyProc, fleet []*latchProc, email, pw string) loadResult {
	const (
		workers     = 4
		maxRequests = 100_000 // a bound on the loop whatever happens
	)
	var (
		res   loadResult
		mu    sync.Mutex
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		count atomic.Int64
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		res.failed++
		if len(res.failures) < 10 {
			res.failures = append(res.failures, msg)
		}
	}
	for w := range workers {
		c := newLoadClient(lb.url)
		if err := c.login(email, pw); err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
		wg.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for i := 0; count.Load() < maxRequests; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				var err error
				if i%20 == 19 {
					count.Add(2)
					if err = c.logout(); err == nil {
						err = c.login(email, pw)
					}
				} else {
					count.Add(1)
					err = c.profile()
				}
				if err != nil {
					fail(fmt.Sprintf("worker %d request %d: %v", w, i, err))
				}
			}
		})
	}

	progress := func(what string) {
		// The loop goes on through every phase: wait until it has made
		// more requests (bounded), so that each phase saw load.
		n := count.Load()
		for deadline := time.Now().Add(30 * time.Second); count.Load() < n+40; {
			if time.Now().After(deadline) {
				t.Errorf("load loop made no progress %s", what)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	progress("before the restart")
	for _, p := range fleet {
		p.stop()
		lb.waitStatus(p.name, "DOWN")
		progress("with " + p.name + " stopped")
		p.start()
		lb.waitStatus(p.name, "UP")
		progress("after " + p.name + " came back")
	}
	close(stop)
	wg.Wait()
	res.requests = count.Load()
	return res
}

// loadClient is the load loop's browser: a cookie jar, no redirects
// followed, errors returned instead of failing the test (it runs on other
// goroutines).
type loadClient struct {
	base   string
	client *http.Client
	csrf   string
}

func newLoadClient(base string) *loadClient {
	jar, _ := cookiejar.New(nil)
	return &loadClient{base: base, client: &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *loadClient) do(method, path string, form url.Values, want int) (string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return "", fmt.Errorf("%s %s: status %d, want %d (X-Request-ID %s)", method, path, resp.StatusCode, want, resp.Header.Get("X-Request-ID"))
	}
	return string(b), nil
}

func (c *loadClient) login(email, pw string) error {
	if _, err := c.do(http.MethodPost, "/login", url.Values{"email": {email}, "password": {pw}}, http.StatusSeeOther); err != nil {
		return err
	}
	return c.profile()
}

// profile gets the profile page and keeps its CSRF token.
func (c *loadClient) profile() error {
	body, err := c.do(http.MethodGet, "/profile", nil, http.StatusOK)
	if err != nil {
		return err
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		return errors.New("GET /profile: no csrf_token on the page")
	}
	c.csrf = html.UnescapeString(m[1])
	return nil
}

func (c *loadClient) logout() error {
	_, err := c.do(http.MethodPost, "/logout", url.Values{"csrf_token": {c.csrf}}, http.StatusSeeOther)
	return err
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no csrf_token on the page")
	}
	return html.UnescapeString(m[1])
}

// --- processes ---------------------------------------------------------------

// haproxyBin returns the path of Debian's haproxy; without it the test is
// skipped, or fails under CI (scripts/test-env.sh installs it).
func haproxyBin(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr == nil { // Debian's, when /usr/sbin is not on PATH
			return "/usr/sbin/haproxy"
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("haproxy not installed and CI is set, so not skipping: %v", err)
		}
		t.Skipf("haproxy not installed (apt-get install haproxy): %v", err)
	}
	return path
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port the kernel just
// handed out and released. An instance needs a fixed address (HAProxy's
// configuration names it, and a restarted instance must come back on it).
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// latchProc is one `latch serve` process on a fixed address that the test
// stops and starts again.
type latchProc struct {
	t         *testing.T
	bin       string
	env       map[string]string
	name      string
	addr      string
	cmd       *exec.Cmd
	logs      *fleetLog
	exited    chan error
	cleanedUp bool
	// shutdownLog is the log of its last run that ended with stop.
	shutdownLog string
}

func (p *latchProc) url() string { return "http://" + p.addr }

// start runs the process and waits until it has logged its listening
// address (its /readyz is then the balancer's to judge). The first start
// registers a cleanup that stops it (SIGTERM) if it is running.
func (p *latchProc) start() {
	t := p.t
	t.Helper()
	p.logs = &fleetLog{listening: make(chan struct{})}
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = append(processEnv(p.env), "LATCH_ADDR="+p.addr)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(p.cmd, p.exited)
	if !p.cleanedUp {
		p.cleanedUp = true
		t.Cleanup(func() {
			if p.cmd != nil {
				p.stop()
			}
		})
	}
	select {
	case <-p.logs.listening:
	case err := <-p.exited:
		p.cmd = nil
		t.Fatalf("%s exited before listening: %v\n%s", p.name, err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log its listening address within 30s\n%s", p.name, p.logs.String())
	}
}

// stop sends SIGTERM and waits (at most 30 seconds, then SIGKILL) until
// the process has exited; it must exit with status 0.
func (p *latchProc) stop() {
	t := p.t
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM, want status 0\n%s", p.name, err, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not exit within 30s of SIGTERM\n%s", p.name, p.logs.String())
	}
	p.cmd = nil
	p.shutdownLog = p.logs.String()
	if t.Failed() {
		t.Logf("%s log:\n%s", p.name, p.shutdownLog)
	}
}

// fleetLog keeps a process's standard error and closes listening once the
// "listening" line has been written. (procLog searches its whole buffer on
// every write, too slow for the request lines of a load loop.)
type fleetLog struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	listening chan struct{}
	seen      bool
}

func (l *fleetLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.seen && bytes.Contains(l.buf.Bytes(), []byte(`"msg":"listening"`)) {
		l.seen = true
		close(l.listening)
	}
	return len(p), nil
}

func (l *fleetLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// haproxyProc is a running HAProxy in front of the fleet.
type haproxyProc struct {
	t    *testing.T
	url  string // the frontend, http://127.0.0.1:PORT
	sock string // the stats socket (the runtime API)
	logs *syncBuffer
}

// startHAProxy runs haproxy in the foreground with deploy/haproxy.cfg,
// changed only on the lines after its "# test:" markers: the frontend
// binds a free loopback port, the stats socket is in a temp dir, checks
// run every 100ms, and the servers are the fleet's instances (named as
// they are). It returns once the stats socket answers; SIGTERM at cleanup.
//
// extra replaces further marked lines (e.g. "retries").
func startHAProxy(t *testing.T, bin string, fleet []*latchProc, extra map[string]string) *haproxyProc {
	t.Helper()
	dir := t.TempDir()
	h := &haproxyProc{t: t, url: "http://" + freeLoopbackAddr(t), sock: filepath.Join(dir, "stats.sock"), logs: &syncBuffer{}}
	var servers []string
	for _, p := range fleet {
		servers = append(servers, fmt.Sprintf("    server %s %s check", p.name, p.addr))
	}
	repl := map[string]string{
		"stats socket": "    stats socket " + h.sock + " mode 600 level admin",
		"bind":         "    bind " + strings.TrimPrefix(h.url, "http://"),
		"check timing": "    default-server inter 100ms fall 2 rise 2",
		"servers":      strings.Join(servers, "\n"),
	}
	for k, v := range extra {
		repl[k] = v
	}
	cfg := haproxyConfig(t, filepath.Join("..", "..", "deploy", "haproxy.cfg"), repl)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("haproxy log:\n%s", h.logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := h.stats(); err == nil {
			return h
		}
		select {
		case err := <-exited:
			t.Fatalf("haproxy exited: %v\n%s", err, h.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy's stats socket did not answer within 30s\n%s", h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// haproxyConfig returns the file at path with the line after each
// "# test: NAME" marker replaced by repl[NAME] (kept when repl has no
// NAME); a name the file lacks fails t (the file and this test must agree).
func haproxyConfig(t *testing.T, path string, repl map[string]string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	used := map[string]bool{}
	for i := 0; i < len(lines)-1; i++ {
		name, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "# test: ")
		if !ok {
			continue
		}
		r, ok := repl[name]
		if !ok {
			continue // the line as deployed
		}
		lines[i+1] = r
		used[name] = true
	}
	for name := range repl {
		if !used[name] {
			t.Fatalf("%s: no \"# test: %s\" marker", path, name)
		}
	}
	return strings.Join(lines, "\n")
}

// stats returns HAProxy's "show stat" rows of backend latch's servers,
// each a map from column name (svname, status, stot, ...) to value.
func (h *haproxyProc) stats() ([]map[string]string, error) {
	conn, err := net.DialTimeout("unix", h.sock, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, err
	}
	r := csv.NewReader(bufio.NewReader(conn))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || len(recs[0]) == 0 {
		return nil, errors.New("haproxy: empty show stat")
	}
	header := recs[0]
	header[0] = strings.TrimPrefix(header[0], "# ")
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, v := range rec {
			if i < len(header) {
				row[header[i]] = v
			}
		}
		if row["pxname"] == "latch" && row["svname"] != "BACKEND" {
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// served returns how many requests HAProxy has sent to each server (stot).
func (h *haproxyProc) served() map[string]int {
	h.t.Helper()
	rows, err := h.stats()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int{}
	for _, row := range rows {
		n, _ := strconv.Atoi(row["stot"])
		out[row["svname"]] = n
	}
	return out
}

// waitStatus waits (at most 30 seconds) until HAProxy's health checks say
// server name is UP or DOWN.
func (h *haproxyProc) waitStatus(name, want string) {
	h.t.Helper()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rows, err := h.stats()
		if err != nil {
			last = err.Error()
			continue
		}
		for _, row := range rows {
			if row["svname"] == name {
				if last = row["status"]; last == want {
					return
				}
			}
		}
	}
	h.t.Fatalf("haproxy: server %s not %s within 30s (last: %s)\n%s", name, want, last, h.logs.String())
}
