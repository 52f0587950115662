package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/latch/latch/internal/user"
)

// insertLegacyUser stores an account the way CreateUser did before emails
// were normalised with NFKC and checked for look-alikes: the address as
// typed, keyed by its lower-cased form. It returns the account's ID.
func insertLegacyUser(t *testing.T, db *DB, email string) int64 {
	t.Helper()
	var id int64
	err := db.SQL().QueryRowContext(t.Context(), db.rebind(`
		INSERT INTO users (email, email_key, name, password_hash, role, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		email, strings.ToLower(email), "Legacy", "$argon2id$legacy", string(user.RoleUser), false, db.timeArg(fixedNow),
	).Scan(&id)
	if err != nil {
		t.Fatalf("insert legacy %q: %v", email, err)
	}
	return id
}

// TestLookAlikeAccounts (issue 12.4), on SQLite and PostgreSQL: new
// addresses are normalised with NFKC (fullwidth letters become ASCII) and
// mixed-script ones are refused, while accounts stored before, whose
// address normalises differently or would be refused today, are still
// found by the address they have, which is what signing in needs.
func TestLookAlikeAccounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		alice := mustCreate(t, db, &user.User{Email: "alice@example.com", Name: "Alice", PasswordHash: "h"})
		fullwidth := insertLegacyUser(t, db, "ａｌｉｃｅ@example.com")
		cyrillic := insertLegacyUser(t, db, "alіce@example.com") // Cyrillic і
		zeroWidth := insertLegacyUser(t, db, "bo\u200bb@example.com")

		for _, tt := range []struct {
			typed string
			want  int64
		}{
			{"alice@example.com", alice.ID},
			{"Alice@Example.com", alice.ID},
			{"ａｌｉｃｅ@example.com", fullwidth}, // its own, older account: exact key first
			{"ＡＬＩＣＥ@example.com", fullwidth},
			{"alіce@example.com", cyrillic},
			{"  ALІCE@example.com ", cyrillic},
			{"bo\u200bb@example.com", zeroWidth},
		} {
			u, err := db.UserByEmail(ctx, tt.typed)
			if err != nil {
				t.Errorf("UserByEmail(%q): %v", tt.typed, err)
				continue
			}
			if u.ID != tt.want {
				t.Errorf("UserByEmail(%q) = account %d (%q), want %d", tt.typed, u.ID, u.Email, tt.want)
			}
		}

		// New accounts: fullwidth is stored as ASCII and found both ways.
		carol := mustCreate(t, db, &user.User{Email: "ｃａｒｏｌ@example.com", Name: "Carol", PasswordHash: "h"})
		if carol.Email != "carol@example.com" {
			t.Errorf("stored address %q, want carol@example.com", carol.Email)
		}
		for _, typed := range []string{"carol@example.com", "ｃａｒｏｌ@example.com", "CAROL@example.com"} {
			if u, err := db.UserByEmail(ctx, typed); err != nil || u.ID != carol.ID {
				t.Errorf("UserByEmail(%q) = %v, %v; want carol", typed, u, err)
			}
		}
		// A fullwidth copy of an existing address is the same account.
		if err := db.CreateUser(ctx, &user.User{Email: "ＣＡＲＯＬ@example.com", Name: "Mallory", PasswordHash: "h"}); !errors.Is(err, user.ErrEmailTaken) {
			t.Errorf("fullwidth copy of carol: %v, want ErrEmailTaken", err)
		}
		// Look-alikes are refused.
		for _, email := range []string{"dаve@example.com", "dave@exаmple.com", "da\u200bve@example.com", "dave\u00ad@example.com", "\u202edave@example.com"} {
			if err := db.CreateUser(ctx, &user.User{Email: email, Name: "Dave", PasswordHash: "h"}); !errors.Is(err, user.ErrInvalid) {
				t.Errorf("CreateUser(%q): %v, want a validation error", email, err)
			}
		}
		if _, err := db.UserByEmail(ctx, "nobody\x00@example.com"); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("UserByEmail with a NUL: %v, want ErrNotFound (and no query)", err)
		}
	})
}
