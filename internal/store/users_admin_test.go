package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/user"
)

// userEmails returns the addresses of users, in order.
func userEmails(users []user.User) []string {
	emails := make([]string, len(users))
	for i, u := range users {
		emails[i] = u.Email
	}
	return emails
}

// mustUserByID fetches account id and fails the test on error.
func mustUserByID(t *testing.T, db *DB, id int64) *user.User {
	t.Helper()
	u, err := db.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

func TestUsersSearch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		for _, email := range []string{
			"Ada@Example.com", "a_b@example.org", "axb@example.org", "100%@example.org",
			"Jörg@Exämple.com", "bob@EXAMPLE.net",
		} {
			mustCreate(t, db, &user.User{Email: email, Name: "N", PasswordHash: "h"})
		}
		all := []string{"Ada@Example.com", "a_b@example.org", "axb@example.org", "100%@example.org", "Jörg@Exämple.com", "bob@EXAMPLE.net"}
		tests := []struct {
			name  string
			query string
			want  []string
		}{
			{"empty matches all, by ID", "", all},
			{"blank matches all", "  \t", all},
			{"substring", "example.org", []string{"a_b@example.org", "axb@example.org", "100%@example.org"}},
			{"case-insensitive", "EXAMPLE.NET", []string{"bob@EXAMPLE.net"}},
			{"stored case does not matter", "ada@example", []string{"Ada@Example.com"}},
			{"trimmed", "  bob@ ", []string{"bob@EXAMPLE.net"}},
			{"unicode, case-insensitive", "JÖRG@EXÄ", []string{"Jörg@Exämple.com"}},
			{"underscore is literal", "_", []string{"a_b@example.org"}},
			{"a_b does not match axb", "a_b", []string{"a_b@example.org"}},
			{"percent is literal", "%", []string{"100%@example.org"}},
			{"percent inside", "0%@", []string{"100%@example.org"}},
			{"backslash is literal", `\`, []string{}},
			{"escaped-looking input", `\%`, []string{}},
			{"no match", "nobody", []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := db.Users(t.Context(), tt.query, 0, 0)
				if err != nil {
					t.Fatalf("Users(%q): %v", tt.query, err)
				}
				if got == nil {
					t.Fatalf("Users(%q) returned a nil slice", tt.query)
				}
				if diff := cmp.Diff(tt.want, userEmails(got)); diff != "" {
					t.Errorf("Users(%q) (-want +got):\n%s", tt.query, diff)
				}
				if total != len(tt.want) {
					t.Errorf("Users(%q) total = %d, want %d", tt.query, total, len(tt.want))
				}
			})
		}
	})
}

func TestUsersPages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		var all []string
		for i := range 55 {
			u := mustCreate(t, db, &user.User{Email: fmt.Sprintf("u%02d@example.com", i), Name: "U", PasswordHash: "h"})
			all = append(all, u.Email)
		}
		mustCreate(t, db, &user.User{Email: "other@example.org", Name: "O", PasswordHash: "h"})
		tests := []struct {
			name          string
			offset, limit int
			want          []string
		}{
			{"first page", 0, 10, all[:10]},
			{"middle page", 10, 10, all[10:20]},
			{"last page", 50, 10, all[50:]},
			{"past the end", 100, 10, []string{}},
			{"negative offset", -3, 2, all[:2]},
			{"default limit is 50", 0, 0, all[:50]},
			{"negative limit is the default", 5, -1, all[5:55]},
			{"large limit", 0, 1000, all},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := db.Users(t.Context(), "example.com", tt.offset, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, userEmails(got)); diff != "" {
					t.Errorf("Users(offset %d, limit %d) (-want +got):\n%s", tt.offset, tt.limit, diff)
				}
				if total != 55 {
					t.Errorf("total = %d, want 55", total)
				}
			})
		}
		got, _, err := db.Users(t.Context(), "u07@", 0, 0)
		if err != nil || len(got) != 1 {
			t.Fatalf("Users(u07@) = %v, %v; want one user", got, err)
		}
		if want := mustUserByID(t, db, got[0].ID); !cmp.Equal(*want, got[0]) {
			t.Errorf("Users row %+v differs from UserByID %+v", got[0], *want)
		}
	})
}

func TestSetDisabledAndRole(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, db *DB)
	}{
		{"disable and enable", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "d@example.com", Name: "D", PasswordHash: "h"})
			other := mustCreate(t, db, &user.User{Email: "o@example.com", Name: "O", PasswordHash: "h"})
			for _, disabled := range []bool{true, true, false, false, true} {
				if err := db.SetDisabled(t.Context(), u.ID, disabled); err != nil {
					t.Fatalf("SetDisabled(%v): %v", disabled, err)
				}
				if got := mustUserByID(t, db, u.ID); got.Disabled != disabled {
					t.Errorf("after SetDisabled(%v), Disabled = %v", disabled, got.Disabled)
				}
			}
			if got := mustUserByID(t, db, other.ID); got.Disabled {
				t.Error("another account was disabled")
			}
		}},
		{"set role", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "h"})
			other := mustCreate(t, db, &user.User{Email: "o@example.com", Name: "O", PasswordHash: "h"})
			for _, role := range []user.Role{user.RoleAdmin, user.RoleAdmin, user.RoleUser, user.RoleAdmin} {
				if err := db.SetRole(t.Context(), u.ID, role); err != nil {
					t.Fatalf("SetRole(%q): %v", role, err)
				}
				if got := mustUserByID(t, db, u.ID); got.Role != role {
					t.Errorf("after SetRole(%q), Role = %q", role, got.Role)
				}
			}
			if got := mustUserByID(t, db, other.ID); got.Role != user.RoleUser {
				t.Errorf("another account's role became %q", got.Role)
			}
		}},
		{"invalid role is rejected", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "h", Role: user.RoleAdmin})
			for _, role := range []user.Role{"", "root", "Admin", "admin "} {
				if err := db.SetRole(t.Context(), u.ID, role); !errors.Is(err, user.ErrInvalid) {
					t.Errorf("SetRole(%q) = %v, want ErrInvalid", role, err)
				}
			}
			if got := mustUserByID(t, db, u.ID); got.Role != user.RoleAdmin {
				t.Errorf("role changed to %q by rejected calls", got.Role)
			}
		}},
		{"missing user", func(t *testing.T, db *DB) {
			mustCreate(t, db, &user.User{Email: "s@example.com", Name: "S", PasswordHash: "h"})
			for _, id := range []int64{0, -1, 987654} {
				if err := db.SetDisabled(t.Context(), id, true); !errors.Is(err, user.ErrNotFound) {
					t.Errorf("SetDisabled(%d) = %v, want ErrNotFound", id, err)
				}
				if err := db.SetRole(t.Context(), id, user.RoleAdmin); !errors.Is(err, user.ErrNotFound) {
					t.Errorf("SetRole(%d) = %v, want ErrNotFound", id, err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDialect(t, tt.run)
		})
	}
}
