package session_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestNoticeSeen checks that the time of the last notice shown is kept in
// the session, written only when it moves forward, and absent for
// anonymous requests.
func TestNoticeSeen(t *testing.T) {
	h := newHarness(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := h.mgr.Login(r.Context(), 7, false); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	// GET /notice[?mark=UNIX] prints NoticeSeen as unix seconds (0 for
	// none), then marks the given time seen.
	mux.HandleFunc("GET /notice", func(w http.ResponseWriter, r *http.Request) {
		seen := h.mgr.NoticeSeen(r.Context())
		if raw := r.URL.Query().Get("mark"); raw != "" {
			n, _ := strconv.ParseInt(raw, 10, 64)
			h.mgr.MarkNoticeSeen(r.Context(), time.Unix(n, 0))
		}
		if seen.IsZero() {
			fmt.Fprint(w, 0)
			return
		}
		if seen.Location() != time.UTC {
			t.Errorf("NoticeSeen location = %v, want UTC", seen.Location())
		}
		fmt.Fprint(w, seen.Unix())
	})
	srv := httptest.NewTLSServer(h.mgr.Middleware(mux))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := srv.Client()
	c.Jar = jar
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	if got := get("/notice?mark=1000"); got != "0" {
		t.Errorf("anonymous NoticeSeen = %s, want 0", got)
	}
	if resp, err := c.Post(srv.URL+"/login", "", nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v", resp, err)
	}
	if got := get("/notice"); got != "0" {
		t.Errorf("NoticeSeen after login = %s, want 0", got)
	}
	h.counter.Reset()
	get("/notice?mark=2000")
	if diff := cmp.Diff([]string{"EVALSHA", "EVALSHA"}, h.counter.Commands()); diff != "" {
		t.Errorf("marking a notice seen (-want +got):\n%s", diff)
	}
	h.counter.Reset()
	if got := get("/notice?mark=1500"); got != "2000" {
		t.Errorf("NoticeSeen = %s, want 2000", got)
	}
	if diff := cmp.Diff([]string{"EVALSHA"}, h.counter.Commands()); diff != "" {
		t.Errorf("marking an older notice seen wrote the session (-want +got):\n%s", diff)
	}
	if got := get("/notice"); got != "2000" {
		t.Errorf("NoticeSeen after marking an older time = %s, want 2000", got)
	}
}
