package web

import "testing"

func TestFirstError(t *testing.T) {
	order := []string{"email", "name", "password"}
	cases := []struct {
		name string
		errs map[string]string
		want string
	}{
		{"no errors", nil, ""},
		{"one error", map[string]string{"password": "Too short."}, "password"},
		{"the form's order wins over the map's", map[string]string{"password": "Too short.", "name": "Enter your name."}, "name"},
		{"every field", map[string]string{"password": "x", "name": "y", "email": "z"}, "email"},
		{"an error of another form", map[string]string{"ip": "Not an IP address."}, ""},
	}
	for _, c := range cases {
		if got := firstError(c.errs, order...); got != c.want {
			t.Errorf("%s: firstError = %q, want %q", c.name, got, c.want)
		}
	}
}
