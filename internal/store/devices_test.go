package store

import (
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/user"
)

// mustRecordDevice calls RecordDeviceLogin with a 30-day window and fails
// the test on error.
func mustRecordDevice(t *testing.T, db *DB, userID int64, key, label, handle string, at time.Time) bool {
	t.Helper()
	isNew, err := db.RecordDeviceLogin(t.Context(), userID, key, label, handle, at, at.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatalf("RecordDeviceLogin(%d, %q, %q): %v", userID, key, handle, err)
	}
	return isNew
}

// mustLatestNewDevice calls LatestNewDevice and fails the test on error.
func mustLatestNewDevice(t *testing.T, db *DB, userID int64, since time.Time, except string) (time.Time, string) {
	t.Helper()
	at, label, err := db.LatestNewDevice(t.Context(), userID, since, except)
	if err != nil {
		t.Fatalf("LatestNewDevice(%d, %v, %q): %v", userID, since, except, err)
	}
	return at, label
}

func TestKnownDevices(t *testing.T) {
	base := time.Date(2026, 3, 14, 10, 31, 0, 0, time.UTC)
	day := 24 * time.Hour
	const (
		firefox = "Firefox|Windows|198.51.100.0/24"
		chrome  = "Chrome|macOS|203.0.113.0/24"
	)
	tests := []struct {
		name string
		run  func(t *testing.T, db *DB, uid, other int64)
	}{
		{"the first device of an account is not new", func(t *testing.T, db *DB, uid, _ int64) {
			if mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base) {
				t.Error("first device reported new")
			}
			if at, _ := mustLatestNewDevice(t, db, uid, time.Time{}, ""); !at.IsZero() {
				t.Errorf("LatestNewDevice after the first device = %v, want none", at)
			}
		}},
		{"another device is new and remembered", func(t *testing.T, db *DB, uid, _ int64) {
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base)
			at := base.Add(time.Hour + 500*time.Millisecond)
			if !mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-b", at) {
				t.Fatal("second device not reported new")
			}
			gotAt, label := mustLatestNewDevice(t, db, uid, base, "handle-a")
			if want := base.Add(time.Hour); !gotAt.Equal(want) || gotAt.Location() != time.UTC || label != "Chrome on macOS" {
				t.Errorf("LatestNewDevice = %v %q, want %v %q", gotAt, label, want, "Chrome on macOS")
			}
		}},
		{"a device seen within the window is not new", func(t *testing.T, db *DB, uid, _ int64) {
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base)
			mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-b", base.Add(time.Hour))
			for i, at := range []time.Time{base.Add(2 * time.Hour), base.Add(20 * day), base.Add(49 * day)} {
				if mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-c"+string(rune('0'+i)), at) {
					t.Errorf("sign-in at %v reported new, last seen within 30 days", at)
				}
			}
			if at, _ := mustLatestNewDevice(t, db, uid, time.Time{}, ""); !at.Equal(base.Add(time.Hour)) {
				t.Errorf("LatestNewDevice = %v, want the first new sign-in %v", at, base.Add(time.Hour))
			}
		}},
		{"a device not seen for longer than the window is new again", func(t *testing.T, db *DB, uid, _ int64) {
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base)
			mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-b", base.Add(time.Hour))
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-c", base.Add(20*day))
			later := base.Add(time.Hour + 30*day + time.Second)
			if !mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-d", later) {
				t.Error("device last seen 30 days and a second ago not reported new")
			}
			if at, _ := mustLatestNewDevice(t, db, uid, base.Add(21*day), "handle-c"); !at.Equal(later) {
				t.Errorf("LatestNewDevice = %v, want %v", at, later)
			}
			exactly := later.Add(30 * day)
			if mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-e", exactly) {
				t.Error("device last seen exactly 30 days ago reported new")
			}
		}},
		{"since, the asking session and other accounts filter the notice", func(t *testing.T, db *DB, uid, other int64) {
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base)
			mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-b", base.Add(time.Hour))
			if at, _ := mustLatestNewDevice(t, db, uid, base.Add(time.Hour), "handle-b"); !at.IsZero() {
				t.Errorf("the new-device session sees its own sign-in: %v", at)
			}
			if at, _ := mustLatestNewDevice(t, db, uid, base.Add(time.Hour+time.Second), ""); !at.IsZero() {
				t.Errorf("since after the sign-in still finds it: %v", at)
			}
			if at, _ := mustLatestNewDevice(t, db, uid, base.Add(time.Hour-time.Millisecond), ""); at.IsZero() {
				t.Error("since a fraction of a second before the sign-in misses it")
			}
			if at, _ := mustLatestNewDevice(t, db, other, time.Time{}, ""); !at.IsZero() {
				t.Errorf("another account sees the notice: %v", at)
			}
			// The same key is the other account's first device, never new.
			if mustRecordDevice(t, db, other, chrome, "Chrome on macOS", "handle-x", base.Add(2*time.Hour)) {
				t.Error("another account's first device reported new")
			}
		}},
		{"the latest of several new devices wins", func(t *testing.T, db *DB, uid, _ int64) {
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base)
			mustRecordDevice(t, db, uid, chrome, "Chrome on macOS", "handle-b", base.Add(time.Hour))
			mustRecordDevice(t, db, uid, "Safari|iOS|2001:db8:1::/48", "Safari on iOS", "handle-c", base.Add(2*time.Hour))
			at, label := mustLatestNewDevice(t, db, uid, base, "")
			if !at.Equal(base.Add(2*time.Hour)) || label != "Safari on iOS" {
				t.Errorf("LatestNewDevice = %v %q, want the Safari sign-in", at, label)
			}
		}},
		{"simultaneous sign-ins from one new device report it once", func(t *testing.T, db *DB, uid, _ int64) {
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base)
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				fresh int
			)
			for i := range 8 {
				wg.Go(func() {
					isNew, err := db.RecordDeviceLogin(t.Context(), uid, chrome, "Chrome on macOS",
						"handle-race-"+string(rune('a'+i)), base.Add(time.Hour), base.Add(time.Hour-30*day))
					if err != nil {
						t.Errorf("RecordDeviceLogin: %v", err)
					}
					mu.Lock()
					defer mu.Unlock()
					if isNew {
						fresh++
					}
				})
			}
			wg.Wait()
			if fresh != 1 {
				t.Errorf("%d of 8 simultaneous sign-ins reported new, want 1", fresh)
			}
		}},
		{"empty key or handle is refused", func(t *testing.T, db *DB, uid, _ int64) {
			for _, c := range [][2]string{{"", "h"}, {firefox, ""}} {
				if _, err := db.RecordDeviceLogin(t.Context(), uid, c[0], "x", c[1], base, base); err == nil {
					t.Errorf("RecordDeviceLogin(key %q, handle %q) succeeded, want an error", c[0], c[1])
				}
			}
		}},
		{"text is made valid UTF-8", func(t *testing.T, db *DB, uid, _ int64) {
			mustRecordDevice(t, db, uid, firefox, "Firefox on Windows", "handle-a", base)
			mustRecordDevice(t, db, uid, "bad\xff\x00key", "bad\xff\x00label", "handle-b", base.Add(time.Hour))
			if _, label := mustLatestNewDevice(t, db, uid, base, ""); label != "bad\uFFFD\uFFFDlabel" {
				t.Errorf("label = %q, want invalid bytes and NUL replaced", label)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, db *DB) {
				u := mustCreate(t, db, &user.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "x"})
				o := mustCreate(t, db, &user.User{Email: "bob@example.com", Name: "Bob", PasswordHash: "x"})
				tc.run(t, db, u.ID, o.ID)
			})
		})
	}
}
