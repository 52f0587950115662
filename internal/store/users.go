package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/user"
)

// userColumns is the column list every user query selects, in scanUser order.
const userColumns = "id, email, name, password_hash, role, disabled, created_at, sessions_valid_after, " +
	"state_version, new_device_at_ms, new_device_label, new_device_handle, time_zone"

// CreateUser inserts u and sets u.ID and u.CreatedAt.
//
// u.Email is normalised with user.NormalizeEmail (u.Email becomes the trimmed
// NFKC form; the lower-cased key is stored for lookups) and an invalid
// address, look-alikes included, is a *user.ValidationError. An empty u.Role becomes user.RoleUser; any other
// unknown role is an error. u.CreatedAt, if zero, becomes the current time;
// either way it is stored and returned in UTC with one-second precision. u.Name
// and u.PasswordHash are stored as given (validate and hash before calling).
//
// Errors: user.ErrEmailTaken when another account has the same address,
// compared case-insensitively after NFKC ("A@x.com", "a@X.com" and
// "ａ@x.com" collide).
func (db *DB) CreateUser(ctx context.Context, u *user.User) error {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	email, key, err := user.NormalizeEmail(u.Email)
	if err != nil {
		return fmt.Errorf("store: create user: %w", err)
	}
	role := u.Role
	if role == "" {
		role = user.RoleUser
	}
	if !role.Valid() {
		return fmt.Errorf("store: create user: unknown role %q", role)
	}
	if u.PasswordHash == "" {
		return errors.New("store: create user: empty password hash")
	}
	created := u.CreatedAt
	if created.IsZero() {
		created = db.now()
	}
	created = created.UTC().Truncate(time.Second)

	var id int64
	err = db.db.QueryRowContext(ctx, db.rebind(`
		INSERT INTO users (email, email_key, name, password_hash, role, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		RETURNING id`),
		email, key, u.Name, u.PasswordHash, string(role), u.Disabled, db.timeArg(created),
	).Scan(&id)
	if err != nil {
		if isUniqueViolation(err, "users_email_key_unique", "users.email_key") {
			return fmt.Errorf("store: create user: %w", user.ErrEmailTaken)
		}
		return fmt.Errorf("store: create user: %w", err)
	}
	u.ID, u.Email, u.Role, u.CreatedAt = id, email, role, created
	return nil
}

// UserByEmail returns the account whose address equals email, ignoring
// case. Its lookup keys are user.EmailLookupKeys: the lower-cased address
// as typed first (so an account made before NormalizeEmail applied NFKC,
// or one that the look-alike rules would refuse today, still signs in
// with the address it has), then the key NormalizeEmail makes (fullwidth
// "ａｌｉｃｅ@example.com" finds alice@example.com); almost always the two
// are one key and one query. Errors: user.ErrNotFound when there is none,
// including when email is no address an account can have (no query then).
func (db *DB) UserByEmail(ctx context.Context, email string) (*user.User, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	for _, key := range user.EmailLookupKeys(email) {
		u, err := db.scanUser(db.db.QueryRowContext(ctx,
			db.rebind("SELECT "+userColumns+" FROM users WHERE email_key = ?"), key))
		if errors.Is(err, user.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: user by email: %w", err)
		}
		return u, nil
	}
	return nil, fmt.Errorf("store: user by email: %w", user.ErrNotFound)
}

// UserByID returns the account with the given ID. Errors: user.ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id int64) (*user.User, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	u, err := db.scanUser(db.db.QueryRowContext(ctx,
		db.rebind("SELECT "+userColumns+" FROM users WHERE id = ?"), id))
	if err != nil {
		return nil, fmt.Errorf("store: user by id: %w", err)
	}
	return u, nil
}

// SetPasswordHash replaces the stored hash of user id (after a password
// change, or a rehash on sign-in). Errors: user.ErrNotFound when no such user.
func (db *DB) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	if hash == "" {
		return errors.New("store: set password hash: empty hash")
	}
	res, err := db.db.ExecContext(ctx, db.rebind("UPDATE users SET password_hash = ? WHERE id = ?"), hash, id)
	if err != nil {
		return fmt.Errorf("store: set password hash: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: set password hash: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: set password hash: %w", user.ErrNotFound)
	}
	return nil
}

// scanUser reads one row of userColumns (from a *sql.Row or *sql.Rows);
// sql.ErrNoRows becomes user.ErrNotFound.
func (db *DB) scanUser(row interface{ Scan(dest ...any) error }) (*user.User, error) {
	var u user.User
	err := row.Scan(userDest(&u)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, user.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// userDest returns the scan destinations of userColumns for u.
func userDest(u *user.User) []any {
	return []any{&u.ID, &u.Email, &u.Name, &u.PasswordHash, roleScanner{&u.Role}, &u.Disabled, timeScanner{&u.CreatedAt},
		epochScanner{&u.SessionsValidAfter}, &u.StateVersion, msScanner{&u.NewDevice.At}, &u.NewDevice.Label, &u.NewDevice.Handle, &u.TimeZone}
}

// roleScanner reads users.role.
type roleScanner struct{ r *user.Role }

// Scan implements sql.Scanner.
func (s roleScanner) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*s.r = user.Role(v)
	case []byte:
		*s.r = user.Role(v)
	default:
		return fmt.Errorf("cannot scan %T into a role", src)
	}
	return nil
}

// msScanner reads unix milliseconds (0 = none) into a UTC time.Time that
// is zero for 0.
type msScanner struct{ t *time.Time }

// Scan implements sql.Scanner.
func (s msScanner) Scan(src any) error { return scanUnix(src, s.t, time.UnixMilli, "a time in ms") }
