package web_test

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Pages of the password change, the reset link and the admin's "Create
// reset link" (internal/server handlers_account.go, handlers_reset.go).

func TestAccountPassword(t *testing.T) {
	t.Run("form", func(t *testing.T) {
		data := signedIn()
		data.Title = "Change your password"
		html := render(t, "account_password", data)
		mustContain(t, html,
			"<title>Change your password · Latch</title>",
			"<h1>Change your password</h1>",
			`<form method="post" action="/account/password" class="form" novalidate>`,
			`<input type="hidden" name="csrf_token" value="`+csrfToken+`">`,
			`<input type="password" id="current_password" name="current_password" autocomplete="current-password" autofocus required>`,
			`<input type="password" id="password" name="password" autocomplete="new-password" required aria-describedby="password-hint">`,
			`<p class="field-hint" id="password-hint">At least 12 characters, and not easy to guess`,
			"Change password</button>",
			"signs out every other browser and device",
		)
		mustNotContain(t, html, "aria-invalid", `class="field-error"`, "Sessions signed out")
	})

	t.Run("errors", func(t *testing.T) {
		data := signedIn()
		data.FieldErrors = map[string]string{
			"current_password": "That is not your current password. Try again",
			"password":         "This password is too easy to guess: it contains your name or email address. Try a longer phrase",
		}
		html := render(t, "account_password", data)
		mustContain(t, html,
			`autocomplete="current-password" autofocus required aria-invalid="true" aria-describedby="current_password-error">`,
			`<p class="field-error" id="current_password-error">That is not your current password. Try again</p>`,
			`autocomplete="new-password" required aria-invalid="true" aria-describedby="password-error password-hint">`,
			`<p class="field-error" id="password-error">This password is too easy to guess: it contains your name or email address. Try a longer phrase</p>`,
		)
		checkReferences(t, html)
		if regexp.MustCompile(`type="password"[^>]*value=`).MatchString(html) {
			t.Error("a password field has a value attribute")
		}
	})

	t.Run("changed, with the sessions it ended", func(t *testing.T) {
		data := signedIn()
		data.Title = "Password changed"
		data.PasswordChanged = true
		data.Ended = data.Sessions[1:]
		html := render(t, "account_password", data)
		mustContain(t, html,
			"<h1>Password changed</h1>",
			"This device stays signed in; every other session of your account has been signed out.",
			`<h2 id="ended-heading">Sessions signed out</h2>`,
			`<h3 class="device-name">Unknown browser</h3>`,
			`<dd>203.0.113.7</dd>`,
			`<a href="/profile">Back to your profile</a>`,
		)
		mustNotContain(t, html, "<form method=\"post\" action=\"/account/password\"", "Firefox 128 on Linux</h3>")

		data.Ended = nil
		html = render(t, "account_password", data)
		mustContain(t, html, "<p>You had no other sessions to sign out.</p>")
		mustNotContain(t, html, "Sessions signed out")

		data.Notice = "Your other sessions could not be listed right now."
		html = render(t, "account_password", data)
		mustContain(t, html, `<p class="notice" role="status">Your other sessions could not be listed right now.</p>`)
		mustNotContain(t, html, "You had no other sessions")
	})
}

func TestReset(t *testing.T) {
	const token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"
	t.Run("form", func(t *testing.T) {
		data := anonymous()
		data.Title = "Choose a new password"
		data.Reset = resetView{Action: "/reset/" + token, Email: `ada"<b>@example.com`}
		html := render(t, "reset", data)
		mustContain(t, html,
			"<title>Choose a new password · Latch</title>",
			"<h1>Choose a new password</h1>",
			`<strong id="reset-email">ada&#34;&lt;b&gt;@example.com</strong>`,
			`<form method="post" action="/reset/`+token+`" class="form" novalidate>`,
			`<input type="password" id="password" name="password" autocomplete="new-password" autofocus required aria-describedby="password-hint">`,
			"Set password and log in</button>",
			"signs out every session of the account",
		)
		mustNotContain(t, html, "csrf_token", "This link cannot be used")
	})

	t.Run("weak password", func(t *testing.T) {
		data := anonymous()
		data.Reset = resetView{Action: "/reset/" + token, Email: "ada@example.com"}
		data.FieldErrors = map[string]string{"password": "This password is too easy to guess: it is a commonly used password."}
		html := render(t, "reset", data)
		mustContain(t, html,
			`aria-invalid="true" aria-describedby="password-error password-hint">`,
			`<p class="field-error" id="password-error">This password is too easy to guess: it is a commonly used password.</p>`,
		)
		checkReferences(t, html)
	})

	t.Run("invalid link", func(t *testing.T) {
		data := anonymous()
		data.Title = "This link cannot be used"
		data.Reset = resetView{Invalid: true}
		html := render(t, "reset", data)
		mustContain(t, html,
			"<h1>This link cannot be used</h1>",
			`<p class="alert" role="alert">This password reset link does not work: it has expired (a link works for 30 minutes), it has been used already (a link works once), or it was not copied in full.</p>`,
			"Ask an administrator for a new link.",
			`<a href="/login">log in</a>`,
		)
		mustNotContain(t, html, "<form method=\"post\" action=\"/reset", `type="password"`)
	})
}

func TestAdminUserResetLink(t *testing.T) {
	data := signedIn()
	html := render(t, "admin_user", data)
	mustContain(t, html,
		`<form method="post" action="/admin/users/8/reset-link" class="inline-form">`,
		"Create reset link</button>",
	)
	mustNotContain(t, html, `id="reset-link"`)

	expires := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	data.ResetLink = &resetLinkView{URL: "https://latch.example.com/reset/AbC-_9", Expires: expires}
	html = render(t, "admin_user", data)
	mustContain(t, html,
		`<h2 id="reset-link-heading">Password reset link</h2>`,
		`It works once, until <time datetime="2026-03-14T10:00:00Z">14 Mar 2026, 10:00 UTC</time>`,
		`<code class="reset-link" id="reset-link">https://latch.example.com/reset/AbC-_9</code>`,
	)
	if strings.Index(html, `id="reset-link"`) > strings.Index(html, `id="actions-heading"`) {
		t.Error("the link is not above the actions")
	}
	checkReferences(t, html)

	// A disabled account gets no button: its link would not work.
	data.ResetLink = nil
	data.Subject.Disabled = true
	mustNotContain(t, render(t, "admin_user", data), "/reset-link")
}

func TestProfilePasswordLink(t *testing.T) {
	mustContain(t, render(t, "profile", signedIn()), `<a href="/account/password">Change your password</a>`)
}
