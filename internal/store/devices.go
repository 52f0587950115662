package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch/latch/internal/deadline"
)

// RecordDeviceLogin records that account userID signed in at `at` from the
// device named key, in the session whose public handle is handle, and
// reports whether that sign-in counts as one from a new device.
//
// key identifies the device (the server builds it from browser family, OS
// and network); label describes it for people ("Firefox on Windows") and
// replaces the stored label. A sign-in is new when the account already had
// at least one known device and key was never seen before or was last
// seen before cutoff (the server passes at minus 30 days). The first
// device of an account is recorded but never new: there is nothing to
// compare it with. A new sign-in is remembered (time, label, handle) for
// LatestNewDevice, and as the account's User.NewDevice (at in
// milliseconds) unless a newer one is stored. Either way key's last_seen
// becomes at. known_devices keeps whole UTC seconds.
//
// The decision and the write are one upsert, so two simultaneous sign-ins
// from the same new device report it once (the one whose handle is
// stored). Errors: a wrapped database error; an empty key or handle.
func (db *DB) RecordDeviceLogin(ctx context.Context, userID int64, key, label, handle string, at, cutoff time.Time) (bool, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	if key == "" || handle == "" {
		return false, errors.New("store: record device login: empty device key or session handle")
	}
	atMs := at.UnixMilli()
	at = at.UTC().Truncate(time.Second)
	cutoff = cutoff.UTC().Truncate(time.Second)
	key, label, handle = cleanText(key, -1), cleanText(label, -1), cleanText(handle, -1)

	var known bool
	if err := db.db.QueryRowContext(ctx, db.rebind(
		"SELECT EXISTS (SELECT 1 FROM known_devices WHERE user_id = ?)"), userID).Scan(&known); err != nil {
		return false, fmt.Errorf("store: record device login: %w", err)
	}
	// A first row is new only when the account has others; an existing row
	// is new again when it was last seen before cutoff. Within DO UPDATE,
	// known_devices.* is the row as it was and excluded.* the one proposed.
	newAt, newHandle := any(nil), ""
	if known {
		newAt, newHandle = db.timeArg(at), handle
	}
	var stored string
	err := db.db.QueryRowContext(ctx, db.rebind(`
		INSERT INTO known_devices (user_id, device_key, label, first_seen, last_seen, new_at, new_handle)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, device_key) DO UPDATE SET
			label      = excluded.label,
			last_seen  = excluded.last_seen,
			new_at     = CASE WHEN known_devices.last_seen < ? THEN excluded.first_seen ELSE known_devices.new_at END,
			new_handle = CASE WHEN known_devices.last_seen < ? THEN ? ELSE known_devices.new_handle END
		RETURNING new_handle`),
		userID, key, label, db.timeArg(at), db.timeArg(at), newAt, newHandle,
		db.timeArg(cutoff), db.timeArg(cutoff), handle,
	).Scan(&stored)
	if err != nil {
		return false, fmt.Errorf("store: record device login: %w", err)
	}
	if !known || stored != handle {
		return false, nil
	}
	// The account's newest new-device sign-in, for the notice of its other
	// sessions, is part of the account's state (changeUser keeps the copy
	// beside the sessions right); an older one never replaces a newer one.
	err = db.changeUser(ctx, userID, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.rebind(`UPDATE users SET new_device_at_ms = ?, new_device_label = ?, new_device_handle = ?
			WHERE id = ? AND new_device_at_ms <= ?`), atMs, label, handle, userID, atMs)
		return err
	})
	if err != nil {
		return true, fmt.Errorf("store: record device login: %w", err)
	}
	return true, nil
}

// LatestNewDevice returns the most recent sign-in of account userID that
// RecordDeviceLogin reported as new, made at or after since by a session
// other than exceptHandle (the asking session's own): its time (UTC) and
// the device's label. A zero time means there is none. It is one index
// seek (known_devices_new_idx), cheap enough for every signed-in page.
func (db *DB) LatestNewDevice(ctx context.Context, userID int64, since time.Time, exceptHandle string) (time.Time, string, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	var (
		at    time.Time
		label string
	)
	err := db.db.QueryRowContext(ctx, db.rebind(`
		SELECT new_at, label FROM known_devices
		WHERE user_id = ? AND new_at >= ? AND new_handle <> ?
		ORDER BY new_at DESC LIMIT 1`),
		userID, db.timeArg(ceilSecond(since.UTC())), exceptHandle,
	).Scan(timeScanner{&at}, &label)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("store: latest new device: %w", err)
	}
	return at, label, nil
}
