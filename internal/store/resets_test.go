package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/user"
)

// resetNow is the time links are made at in these tests; the store never
// reads the clock for resets, so expiry is crossed by passing a later time.
var resetNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func TestPasswordResets(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, db *DB)
	}{
		{"single use", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "old"})
			token, expires, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow.Add(500*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if len(token) != 43 {
				t.Errorf("token %q has %d characters, want 43", token, len(token))
			}
			if want := resetNow.Add(30 * time.Minute); !expires.Equal(want) {
				t.Errorf("expires = %v, want %v", expires, want)
			}
			if id, err := db.PasswordResetUser(t.Context(), token, resetNow.Add(time.Minute)); err != nil || id != u.ID {
				t.Fatalf("PasswordResetUser = %d, %v; want %d", id, err, u.ID)
			}
			// Looking the link up does not use it; consuming it does, once.
			if id, err := db.PasswordResetUser(t.Context(), token, resetNow.Add(time.Minute)); err != nil || id != u.ID {
				t.Fatalf("PasswordResetUser again = %d, %v; want %d", id, err, u.ID)
			}
			if id, err := db.ConsumePasswordReset(t.Context(), token, resetNow.Add(time.Minute)); err != nil || id != u.ID {
				t.Fatalf("ConsumePasswordReset = %d, %v; want %d", id, err, u.ID)
			}
			wantResetInvalid(t, db, token, resetNow.Add(2*time.Minute))
			if _, err := db.ConsumePasswordReset(t.Context(), token, resetNow.Add(2*time.Minute)); !errors.Is(err, user.ErrResetInvalid) {
				t.Errorf("second ConsumePasswordReset = %v, want ErrResetInvalid", err)
			}
		}},
		{"expiry", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "old"})
			token, _, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow)
			if err != nil {
				t.Fatal(err)
			}
			last := resetNow.Add(ResetLinkLifetime - time.Second)
			if id, err := db.PasswordResetUser(t.Context(), token, last); err != nil || id != u.ID {
				t.Fatalf("one second before expiry: %d, %v; want %d", id, err, u.ID)
			}
			wantResetInvalid(t, db, token, resetNow.Add(ResetLinkLifetime))
			if _, err := db.ConsumePasswordReset(t.Context(), token, resetNow.Add(ResetLinkLifetime)); !errors.Is(err, user.ErrResetInvalid) {
				t.Errorf("ConsumePasswordReset at expiry = %v, want ErrResetInvalid", err)
			}
			if _, err := db.ResetPassword(t.Context(), token, "new", resetNow.Add(time.Hour)); !errors.Is(err, user.ErrResetInvalid) {
				t.Errorf("ResetPassword after expiry = %v, want ErrResetInvalid", err)
			}
			if got := mustUserByID(t, db, u.ID).PasswordHash; got != "old" {
				t.Errorf("password hash = %q after an expired reset, want unchanged", got)
			}
		}},
		{"unknown token", func(t *testing.T, db *DB) {
			mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "old"})
			for _, token := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
				wantResetInvalid(t, db, token, resetNow)
			}
		}},
		{"unknown account", func(t *testing.T, db *DB) {
			if _, _, err := db.CreatePasswordReset(t.Context(), 987654, resetNow); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("CreatePasswordReset for no account = %v, want ErrNotFound", err)
			}
		}},
		{"a new link replaces the unused one", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "old"})
			other := mustCreate(t, db, &user.User{Email: "o@example.com", Name: "O", PasswordHash: "old"})
			first, _, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow)
			if err != nil {
				t.Fatal(err)
			}
			othersLink, _, err := db.CreatePasswordReset(t.Context(), other.ID, resetNow)
			if err != nil {
				t.Fatal(err)
			}
			second, _, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if first == second {
				t.Fatal("two links have the same token")
			}
			wantResetInvalid(t, db, first, resetNow.Add(2*time.Minute))
			for token, id := range map[string]int64{second: u.ID, othersLink: other.ID} {
				if got, err := db.PasswordResetUser(t.Context(), token, resetNow.Add(2*time.Minute)); err != nil || got != id {
					t.Errorf("PasswordResetUser = %d, %v; want %d", got, err, id)
				}
			}
		}},
		{"only the hash is stored", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "old"})
			token, _, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow)
			if err != nil {
				t.Fatal(err)
			}
			var stored string
			if err := db.SQL().QueryRowContext(t.Context(), "SELECT token_hash FROM password_resets").Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored == token || stored != resetTokenHash(token) || len(stored) != 64 {
				t.Errorf("stored %q for token %q, want its hex SHA-256", stored, token)
			}
		}},
		{"reset password", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "old"})
			other := mustCreate(t, db, &user.User{Email: "o@example.com", Name: "O", PasswordHash: "other"})
			token, _, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow)
			if err != nil {
				t.Fatal(err)
			}
			at := resetNow.Add(10*time.Minute + 300*time.Millisecond)
			id, err := db.ResetPassword(t.Context(), token, "new", at)
			if err != nil || id != u.ID {
				t.Fatalf("ResetPassword = %d, %v; want %d", id, err, u.ID)
			}
			got := mustUserByID(t, db, u.ID)
			if got.PasswordHash != "new" || !got.SessionsValidAfter.Equal(resetNow.Add(10*time.Minute)) {
				t.Errorf("after the reset: hash %q, sessions valid after %v; want new, %v", got.PasswordHash, got.SessionsValidAfter, resetNow.Add(10*time.Minute))
			}
			if o := mustUserByID(t, db, other.ID); o.PasswordHash != "other" || !o.SessionsValidAfter.IsZero() {
				t.Errorf("another account changed: %+v", o)
			}
			if _, err := db.ResetPassword(t.Context(), token, "newer", at.Add(time.Second)); !errors.Is(err, user.ErrResetInvalid) {
				t.Errorf("second ResetPassword = %v, want ErrResetInvalid", err)
			}
			if got := mustUserByID(t, db, u.ID).PasswordHash; got != "new" {
				t.Errorf("hash = %q after a refused second reset, want new", got)
			}
			if _, err := db.ResetPassword(t.Context(), token, "", at); err == nil {
				t.Error("ResetPassword with an empty hash succeeded")
			}
		}},
		{"concurrent use: exactly one wins", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "r@example.com", Name: "R", PasswordHash: "old"})
			for round, reset := range []bool{false, true} {
				token, _, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow)
				if err != nil {
					t.Fatal(err)
				}
				const n = 8
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					errs  = make([]error, n)
				)
				for i := range n {
					wg.Go(func() {
						<-start
						if reset {
							_, errs[i] = db.ResetPassword(t.Context(), token, "hash-"+string(rune('a'+i)), resetNow.Add(time.Minute))
						} else {
							_, errs[i] = db.ConsumePasswordReset(t.Context(), token, resetNow.Add(time.Minute))
						}
					})
				}
				close(start)
				wg.Wait()
				wins := 0
				for _, err := range errs {
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, user.ErrResetInvalid):
						t.Errorf("round %d: unexpected error %v", round, err)
					}
				}
				if wins != 1 {
					t.Errorf("round %d (ResetPassword %v): %d callers succeeded, want exactly 1", round, reset, wins)
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

// wantResetInvalid checks that token's link cannot be used at now.
func wantResetInvalid(t *testing.T, db *DB, token string, now time.Time) {
	t.Helper()
	if id, err := db.PasswordResetUser(t.Context(), token, now); !errors.Is(err, user.ErrResetInvalid) {
		t.Errorf("PasswordResetUser(%q) = %d, %v; want ErrResetInvalid", token, id, err)
	}
}

func TestCredentialEpoch(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, db *DB)
	}{
		{"invalidate always moves forward", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "e@example.com", Name: "E", PasswordHash: "h"})
			if got := mustUserByID(t, db, u.ID).SessionsValidAfter; !got.IsZero() {
				t.Fatalf("new account: sessions valid after %v, want zero", got)
			}
			at := resetNow.Add(900 * time.Millisecond)
			if err := db.InvalidateSessions(t.Context(), u.ID, at); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, db, u.ID, resetNow)
			// An older timestamp, or two changes within one second, still
			// give a new epoch: one second on from the last.
			if err := db.InvalidateSessions(t.Context(), u.ID, resetNow.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, db, u.ID, resetNow.Add(time.Second))
			// The server relies on the store following user.NextCredentialEpoch.
			before := mustUserByID(t, db, u.ID)
			if err := db.InvalidateSessions(t.Context(), u.ID, resetNow); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, db, u.ID, time.Unix(before.NextCredentialEpoch(resetNow), 0).UTC())
			if err := db.InvalidateSessions(t.Context(), 987654, at); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("InvalidateSessions(no account) = %v, want ErrNotFound", err)
			}
		}},
		{"set password", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "e@example.com", Name: "E", PasswordHash: "h"})
			if err := db.SetPassword(t.Context(), u.ID, "h2", resetNow); err != nil {
				t.Fatal(err)
			}
			if got := mustUserByID(t, db, u.ID); got.PasswordHash != "h2" {
				t.Errorf("hash %q, want h2", got.PasswordHash)
			}
			wantEpoch(t, db, u.ID, resetNow)
			// A rehash keeps the sessions.
			if err := db.SetPasswordHash(t.Context(), u.ID, "h3"); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, db, u.ID, resetNow)
			if err := db.SetPassword(t.Context(), 987654, "h", resetNow); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("SetPassword(no account) = %v, want ErrNotFound", err)
			}
		}},
		{"disable and role change set it, enable does not", func(t *testing.T, db *DB) {
			u := mustCreate(t, db, &user.User{Email: "e@example.com", Name: "E", PasswordHash: "h"})
			now := resetNow
			db.now = func() time.Time { return now }
			if err := db.SetDisabled(t.Context(), u.ID, true); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, db, u.ID, now)
			now = now.Add(time.Minute)
			if err := db.SetDisabled(t.Context(), u.ID, false); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, db, u.ID, resetNow)
			if err := db.SetRole(t.Context(), u.ID, user.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, db, u.ID, now)
			if got := mustUserByID(t, db, u.ID); got.Role != user.RoleAdmin || got.Disabled {
				t.Errorf("after enable and set-role: %+v", got)
			}
			// Users lists the epoch too.
			list, _, err := db.Users(t.Context(), "e@example.com", 0, 0)
			if err != nil || len(list) != 1 || !list[0].SessionsValidAfter.Equal(now) {
				t.Errorf("Users = %+v, %v; want the account with its epoch", list, err)
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

// wantEpoch checks account id's credential epoch.
func wantEpoch(t *testing.T, db *DB, id int64, want time.Time) {
	t.Helper()
	if got := mustUserByID(t, db, id).SessionsValidAfter; !got.Equal(want) {
		t.Errorf("sessions valid after %v, want %v", got, want)
	}
}

// TestResetLinksDroppedByCredentialChanges: disabling the account (even if
// it is enabled again), a password change and a role change drop unused
// reset links.
func TestResetLinksDroppedByCredentialChanges(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, db *DB, id int64){
		"disable then enable": func(t *testing.T, db *DB, id int64) {
			if err := db.SetDisabled(t.Context(), id, true); err != nil {
				t.Fatal(err)
			}
			if err := db.SetDisabled(t.Context(), id, false); err != nil {
				t.Fatal(err)
			}
		},
		"role change": func(t *testing.T, db *DB, id int64) {
			if err := db.SetRole(t.Context(), id, user.RoleAdmin); err != nil {
				t.Fatal(err)
			}
		},
		"role set to the one it has": func(t *testing.T, db *DB, id int64) {
			if err := db.SetRole(t.Context(), id, user.RoleUser); err != nil {
				t.Fatal(err)
			}
		},
		"password change": func(t *testing.T, db *DB, id int64) {
			if err := db.SetPassword(t.Context(), id, "new hash", resetNow.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, db *DB) {
				u := mustCreate(t, db, &user.User{Email: "d@example.com", Name: "D", PasswordHash: "old"})
				token, _, err := db.CreatePasswordReset(t.Context(), u.ID, resetNow)
				if err != nil {
					t.Fatal(err)
				}
				change(t, db, u.ID)
				if id, err := db.PasswordResetUser(t.Context(), token, resetNow.Add(2*time.Minute)); !errors.Is(err, user.ErrResetInvalid) {
					t.Errorf("link after the change: %d, %v; want ErrResetInvalid", id, err)
				}
			})
		})
	}
}
