package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHostileTextIsInert: a display name and a User-Agent made of markup
// are printed as text on every page that shows them.
func TestHostileTextIsInert(t *testing.T) {
	a := newTestApp(t)
	// Mallory fails once and signs in, both from a hostile client, so her
	// name and that User-Agent reach sessions, accounts and the audit log.
	// A failed login stores the email field only when it is an address
	// (auditEmail): markup typed there is reduced to its length, and an
	// address with characters HTML escapes is shown escaped.
	a.newClient(hostileAgent).do("POST", "/login", url.Values{"email": {hostileName}, "password": {"x"}})
	a.newClient(hostileAgent).do("POST", "/login", url.Values{"email": {"o'brien&sons@example.com"}, "password": {"x"}})
	mallory := a.loginWith("mallory@example.com", hostileAgent, false)
	admin := a.login("admin@example.com", false)

	escapedName := `&lt;script&gt;alert(1)&lt;/script&gt;`
	escapedAgent := `&lt;script&gt;alert(&#34;ua&#34;)&lt;/script&gt;`
	tests := []struct {
		name  string
		c     *client
		path  string
		wants []string
	}{
		{"admin sessions", admin, "/admin/sessions", []string{escapedName, escapedAgent}},
		{"admin users", admin, "/admin/users", []string{escapedName}},
		{"admin user", admin, "/admin/users/3", []string{"<h1>" + escapedName + "</h1>", escapedAgent}},
		{"admin audit", admin, "/admin/audit", []string{escapedName, escapedAgent, "entered as: o&#39;brien&amp;sons@example.com",
			"entered as: (not an email address, 25 characters)"}},
		{"own devices", mallory, "/sessions", []string{escapedName, `<p class="ua">` + escapedAgent + `</p>`}},
		{"profile", mallory, "/profile", []string{escapedName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := tt.c.get(tt.path)
			wantStatus(t, res, body, http.StatusOK)
			mustContain(t, body, tt.wants...)
			if strings.Contains(strings.ToLower(body), "<script") {
				t.Error("page contains a <script> element")
			}
		})
	}
}
