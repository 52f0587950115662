package web_test

import (
	"strings"
	"testing"
)

// TestAutofocusOnFirstError: after a failed submit exactly one field has
// autofocus, the first one with an error in the form's order; without
// errors the form's first empty field has it (on the login page after
// registering, with the email filled in, the password).
func TestAutofocusOnFirstError(t *testing.T) {
	cases := []struct {
		name, page string
		email      string
		errs       map[string]string
		formError  string
		want       string // the id of the one autofocus field
	}{
		{"register, blank", "register", "", nil, "", `id="email"`},
		{"register, password only", "register", "ada@example.com", map[string]string{"password": "Too short."}, "", `id="password"`},
		{"register, name and password", "register", "ada@example.com", map[string]string{"password": "x", "name": "y"}, "", `id="name"`},
		{"login, blank", "login", "", nil, "", `id="email"`},
		{"login, email filled in", "login", "ada@example.com", nil, "", `id="password"`},
		{"login failed", "login", "ada@example.com", nil, "Wrong email or password.", `id="password"`},
		{"password change, new password only", "account_password", "", map[string]string{"password": "Too short."}, "", `id="password"`},
		{"password change, both", "account_password", "", map[string]string{"password": "x", "current_password": "y"}, "", `id="current_password"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := anonymous()
			data.Form = formData{Email: c.email}
			data.FieldErrors = c.errs
			data.FormError = c.formError
			html := render(t, c.page, data)
			var focused []string
			for _, tag := range strings.Split(html, "<input")[1:] {
				tag = tag[:strings.IndexByte(tag, '>')]
				if strings.Contains(tag, " autofocus") {
					focused = append(focused, tag)
				}
			}
			if len(focused) != 1 || !strings.Contains(focused[0], c.want) {
				t.Errorf("autofocus on %q, want only the field with %s", focused, c.want)
			}
		})
	}
}
