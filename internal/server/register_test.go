package server

import (
	"net/http"
	"net/url"
	"testing"
)

// TestRegisterTakenEmailSaysSo pins the account-enumeration policy of
// issue 12.11 (README, "Account enumeration"): registering an address that
// has an account says so, whatever its case or width, and creates nothing;
// such attempts count toward the per-IP registration quota like any other
// (TestRegistrationThrottled).
func TestRegisterTakenEmailSaysSo(t *testing.T) {
	a := newTestApp(t)
	c := a.newClient(firefoxAgent)
	for _, email := range []string{"bob@example.com", "Bob@Example.COM", "ｂｏｂ@example.com"} {
		res, body := c.do("POST", "/register", url.Values{"email": {email}, "name": {"Robert"}, "password": {"purple monkey dishwasher"}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		mustContain(t, body, "An account with this email address already exists. Log in instead.")
	}
	u, err := a.users.UserByEmail(t.Context(), "bob@example.com")
	if err != nil || u.ID != bobID || u.Name != "Bob" {
		t.Errorf("bob's account changed: %+v, %v", u, err)
	}
}
