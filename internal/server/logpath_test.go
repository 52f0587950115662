package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMangledResetLinksKeepTheTokenOutOfTheLog: a reset token in a path
// that is not a well-formed reset link (hideResetToken does not match
// it; the answer is 404) is not written to the log either. Before
// logRoute, each of these put the token in the request line.
func TestMangledResetLinksKeepTheTokenOutOfTheLog(t *testing.T) {
	a := newTestApp(t)
	const token = "S-kYDVq3nB9xq0aZr7Lm2Pc5Tt8Ww1Ee4Rr6Yy0Uu3I" // 43 characters, as CreatePasswordReset makes
	bearer := "latch_at_" + token
	for _, path := range []string{
		"//reset/" + token,
		"/RESET/" + token,
		"/reset;/" + token,
		"/reset/x/" + token,
		"/" + token + ".png",
		"/api/v1/" + bearer,
	} {
		res, body := a.newClient(firefoxAgent).get(path)
		if res.StatusCode >= 500 {
			t.Errorf("GET %s: %d\n%s", path, res.StatusCode, body)
		}
	}
	logs := a.logs.String()
	if strings.Contains(logs, token) || strings.Contains(logs, token[:minSecretSegment]) {
		t.Errorf("a token is in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "redacted") {
		t.Errorf("no redacted route in the log:\n%s", logs)
	}
}

func TestLogRoute(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/profile", "/profile"},
		{"/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke", "/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke"}, // a 22-character handle stays
		{"/reset/" + strings.Repeat("a", 43), "/reset/redacted"},
		{"/x/" + strings.Repeat("B", 31), "/x/" + strings.Repeat("B", 31)},
		{"/x/" + strings.Repeat("B", 32) + ";v=1", "/x/redacted"},
		{"/" + strings.Repeat("é", 300), strings.Repeat("é", 300)[:199]},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = tt.path
		got := logRoute(r)
		if tt.path[1] == 0xc3 { // the long non-ASCII case: only bounded
			if len(got) > 200 {
				t.Errorf("logRoute of a long path is %d bytes, want at most 200", len(got))
			}
			continue
		}
		if got != tt.want {
			t.Errorf("logRoute(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestHandlerLogLinesCarryTheRequestID: the lines a handler logs about a
// request (login succeeded, login failed, logout) carry its request_id,
// as the request line does. They were logged without the request's
// context before, so they had none (break-it review).
func TestHandlerLogLinesCarryTheRequestID(t *testing.T) {
	a := newTestApp(t)
	c := a.login("bob@example.com", false)
	loginAs(a.newClient(firefoxAgent), "bob@example.com", "wrong password")
	if res, body := c.post("/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d\n%s", res.StatusCode, body)
	}
	for _, msg := range []string{`msg="login succeeded"`, `msg="login failed"`, `msg=logout`} {
		found := false
		for _, line := range strings.Split(a.logs.String(), "\n") {
			if strings.Contains(line, msg) {
				found = true
				if !strings.Contains(line, "request_id=") {
					t.Errorf("log line without request_id: %s", line)
				}
			}
		}
		if !found {
			t.Errorf("no %s line in the log:\n%s", msg, a.logs.String())
		}
	}
}
