package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/latch/latch/internal/throttle"
)

// burstResult counts the answers to a burst of logins.
type burstResult struct{ unauthorized, throttled, other int }

// loginBurst sends n wrong-password logins for email at once, alternating
// between the instances, each from ipOf(i) (through the trusted proxy). All
// requests are in flight before the first is answered (a start barrier),
// which is what a parallel attack does.
func loginBurst(t *testing.T, instances []*testApp, n int, email string, ipOf func(int) string) burstResult {
	t.Helper()
	clients := make([]*http.Client, len(instances))
	for i, inst := range instances {
		c := *inst.srv.Client()
		tr := c.Transport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = n
		c.Transport = tr
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		clients[i] = &c
	}
	var (
		mu    sync.Mutex
		res   burstResult
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  []error
	)
	for i := range n {
		inst, client := instances[i%len(instances)], clients[i%len(instances)]
		form := url.Values{"email": {email}, "password": {fmt.Sprintf("wrong guess %d", i)}}
		req, _ := http.NewRequest(http.MethodPost, inst.srv.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", inst.srv.URL)
		req.Header.Set("X-Forwarded-For", ipOf(i))
		wg.Go(func() {
			<-start
			resp, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				res.unauthorized++
			case http.StatusTooManyRequests:
				res.throttled++
			default:
				res.other++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d requests failed, first: %v", len(errs), n, errs[0])
	}
	return res
}

// TestParallelGuessesVerifyAtMostTheQuota is the regression test of issue
// 12 item 1: a burst of wrong-password logins spread over two instances on
// one Redis has at most the quota's number of passwords checked (401) and
// every other guess refused (429), whether it comes from one IP (the
// per-account+IP quota binds) or from a new X-Forwarded-For address per
// request behind a trusted proxy (the per-account quota binds). Before the
// quotas were reserved atomically, every request of a burst passed the
// check before any was counted.
func TestParallelGuessesVerifyAtMostTheQuota(t *testing.T) {
	q := throttle.DefaultQuotas() // account 10/1h, account+IP 5/15m, IP 60/10m
	tests := []struct {
		name  string
		n     int
		ipOf  func(int) string
		quota int
	}{
		{"60 from one IP", 60, func(int) string { return "198.51.100.7" }, q.AccountIP.Count},
		{"120 from one IP", 120, func(int) string { return "198.51.100.8" }, q.AccountIP.Count},
		{"120 from 120 IPs", 120, func(i int) string { return fmt.Sprintf("203.0.%d.%d", 113+i/200, 1+i%200) }, q.Account.Count},
	}
	// Each case has IPs of its own: the per-IP quota (60) must not carry
	// over from one case to the next.
	for _, b := range backends[:2] { // the Redis ones: two instances share the counters
		t.Run(b.name, func(t *testing.T) {
			a := startApp(t, b, withThrottle(q))
			other := startAppWithConfig(t, a.cfg, a.clock)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					email, _ := a.newUser("Burst")
					got := loginBurst(t, []*testApp{a, other}, tt.n, email, tt.ipOf)
					t.Logf("%d parallel wrong guesses over 2 instances: %d passwords checked (401), %d refused (429), %d other",
						tt.n, got.unauthorized, got.throttled, got.other)
					want := burstResult{unauthorized: min(tt.n, tt.quota), throttled: tt.n - min(tt.n, tt.quota)}
					if got != want {
						t.Errorf("answers = %+v, want %+v: passwords checked beyond the quota of %d", got, want, tt.quota)
					}
				})
			}
		})
	}
}
