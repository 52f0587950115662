package server

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/latch/latch/internal/audit"
)

const windowsAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"

// TestProfileHidesActorDetails is the regression test for issue 12.8: a
// user's profile showed the IP address and browser of the administrator
// who acted on the account ("Sessions ended by an administrator …
// 10.66.66.66 · Firefox 128 on Windows"). The subject now sees who acted,
// in words, and not their details; the administrator sees them on their own
// profile and on the admin pages. The user's own sign-ins keep theirs.
func TestProfileHidesActorDetails(t *testing.T) {
	a := newTestApp(t)
	admin := a.loginWith("admin@example.com", windowsAgent, false)
	a.login("bob@example.com", false) // Firefox on Linux: a session for the admin to end

	// The admin ends bob's sessions through the admin page (from Windows) …
	res, body := admin.post("/admin/users/"+strconv.FormatInt(bobID, 10)+"/kill-sessions", nil)
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusOK {
		t.Fatalf("kill sessions: %d\n%s", res.StatusCode, body)
	}
	// … and, recorded earlier, acted from another IP, and an operator used the CLI.
	for _, e := range []audit.Event{
		{Time: t0, Type: audit.SessionsRevoked, Via: audit.ViaAdmin, ActorID: adminID, SubjectID: bobID,
			IP: "10.66.66.66", UserAgent: windowsAgent, SessionHandle: "adminsession0000000000", Detail: "2 sessions"},
		{Time: t0, Type: audit.AccountEnabled, Via: audit.ViaCLI, SubjectID: bobID, IP: "10.77.77.77"},
	} {
		if err := a.audit.InsertAuditEvent(t.Context(), &e); err != nil {
			t.Fatal(err)
		}
	}

	bob := a.login("bob@example.com", false) // the kill signed bob out
	_, body = bob.get("/profile")
	activity := body
	mustContain(t, activity,
		`<span class="activity-what">Sessions ended by an administrator</span>`,
		`Done by an administrator`,
		`<span class="activity-what">Account enabled from the command line</span>`,
		`Done from the command line`,
		`127.0.0.1 · Firefox 128 on Linux`, // bob's own sign-in keeps its details
	)
	mustNotContain(t, activity, "10.66.66.66", "10.77.77.77", "on Windows", "adminsession")

	// The CLI is "the command line" in the event's words and in the note
	// alike, in both languages (as the README says), not "an operator".
	bob.chooseLanguage("ko")
	_, body = bob.get("/profile")
	mustContain(t, body, `<span class="activity-what">계정 활성화 (명령줄에서)</span>`, `명령줄에서 수행함`)
	mustNotContain(t, body, "운영자")
	bob.chooseLanguage("en")

	// The actor and the admin pages see every detail.
	_, body = admin.get("/profile")
	mustContain(t, body, "10.66.66.66 · Firefox 128 on Windows")
	_, body = admin.get("/admin/users/" + strconv.FormatInt(bobID, 10))
	mustContain(t, body, "10.66.66.66", "10.77.77.77")
}
