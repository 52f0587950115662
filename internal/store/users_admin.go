package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/latch/latch/internal/deadline"
	"github.com/latch/latch/internal/user"
)

// likeEscaper escapes LIKE's wildcards ('%', '_') and its escape character
// ('\', declared with ESCAPE in the query) so a search string matches
// literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Users returns one page of accounts, ordered by ID, whose address contains
// emailQuery, and the number of such accounts in all pages.
//
// The match is a case-insensitive substring match on the lower-cased
// address (the key user.NormalizeEmail makes): surrounding white space is
// trimmed from emailQuery, "" matches every account, and '%', '_' and '\'
// match only themselves. limit of 0 (or less) means 50 rows and is capped
// at 500; a negative offset counts as 0. An offset past the end gives an
// empty page and the true total.
func (db *DB) Users(ctx context.Context, emailQuery string, offset, limit int) ([]user.User, int, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	var (
		cond string
		args []any
	)
	if q := strings.ToLower(strings.TrimSpace(emailQuery)); q != "" {
		cond = ` WHERE email_key LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(q)+"%")
	}
	offset, limit = pageBounds(offset, limit)

	var total int
	if err := db.db.QueryRowContext(ctx, db.rebind("SELECT count(*) FROM users"+cond), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: users: count: %w", err)
	}
	rows, err := db.db.QueryContext(ctx, db.rebind("SELECT "+userColumns+" FROM users"+cond+" ORDER BY id LIMIT ? OFFSET ?"),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: users: %w", err)
	}
	defer rows.Close()
	users := []user.User{}
	for rows.Next() {
		u, err := db.scanUser(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: users: %w", err)
		}
		users = append(users, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: users: %w", err)
	}
	return users, total, nil
}

// MaxUsersByIDs is the most distinct IDs UsersByIDs accepts at once.
const MaxUsersByIDs = 1000

// UsersByIDs returns the accounts among ids that exist, keyed by ID, in one
// query: the admin lists name up to two accounts per row, and one lookup
// per name would be ~100 queries per page. IDs may repeat; 0 and negative
// IDs are skipped; an ID with no account is simply absent from the map.
// Errors: more than MaxUsersByIDs distinct IDs; a wrapped database error.
//
// The statement text is the same whatever the number of IDs (a JSON array
// on SQLite, a bigint[] on PostgreSQL), so it is prepared once per
// connection; each ID is one primary-key lookup.
func (db *DB) UsersByIDs(ctx context.Context, ids []int64) (map[int64]*user.User, error) {
	ctx, cancel := deadline.Bound(ctx, opTimeout)
	defer cancel()
	seen := make(map[int64]bool, len(ids))
	uniq := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id > 0 && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	out := make(map[int64]*user.User, len(uniq))
	if len(uniq) == 0 {
		return out, nil
	}
	if len(uniq) > MaxUsersByIDs {
		return nil, fmt.Errorf("store: users by ids: %d IDs, at most %d at once", len(uniq), MaxUsersByIDs)
	}
	var (
		query string
		arg   any = uniq
	)
	if db.dialect == DialectPostgres {
		query = "SELECT " + userColumns + " FROM users WHERE id = ANY(?)"
	} else {
		query = "SELECT " + userColumns + " FROM users WHERE id IN (SELECT value FROM json_each(?))"
		b, _ := json.Marshal(uniq) // []int64 always marshals
		arg = string(b)
	}
	rows, err := db.db.QueryContext(ctx, db.rebind(query), arg)
	if err != nil {
		return nil, fmt.Errorf("store: users by ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := db.scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: users by ids: %w", err)
		}
		out[u.ID] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: users by ids: %w", err)
	}
	return out, nil
}

// SetDisabled disables (true) or re-enables (false) account id. Setting the
// value it already has succeeds. Disabling also moves the credential epoch
// to now (see InvalidateSessions), so no session issued before it is
// honoured even if the account is enabled again. It does not delete the
// sessions or record anything: it is one step of an operation that
// internal/account carries out whole (account.Service.Disable and Enable
// revoke the sessions and record the audit event; web and CLI call those).
// Errors: user.ErrNotFound when there is no such account.
func (db *DB) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	var err error
	if disabled {
		// Enabling the account again must not revive its reset links.
		err = db.updateDroppingResetLinks(ctx, id, "UPDATE users SET disabled = ?, "+db.epochAssignment()+" WHERE id = ?",
			true, db.now().Unix(), id)
	} else {
		err = db.updateUser(ctx, "disabled", false, id)
	}
	if err != nil {
		return fmt.Errorf("store: set disabled: %w", err)
	}
	return nil
}

// SetRole gives account id the role role. Setting the role it already has
// succeeds. A privilege change must end the account's sessions: SetRole
// moves the credential epoch to now (see InvalidateSessions), so none
// issued before it is honoured at its next request, and drops the
// account's unused reset links in the same transaction (README,
// "Credential epoch"); account.Service.SetRole, the one caller, also
// revokes the sessions and records the audit event. Errors:
// one wrapping user.ErrInvalid when role is not user.RoleUser or
// user.RoleAdmin; user.ErrNotFound when there is no such account.
func (db *DB) SetRole(ctx context.Context, id int64, role user.Role) error {
	if !role.Valid() {
		return fmt.Errorf("store: set role: unknown role %q: %w", role, user.ErrInvalid)
	}
	if err := db.updateDroppingResetLinks(ctx, id, "UPDATE users SET role = ?, "+db.epochAssignment()+" WHERE id = ?",
		string(role), db.now().Unix(), id); err != nil {
		return fmt.Errorf("store: set role: %w", err)
	}
	return nil
}

// SetTimeZone stores the time zone account id chose for the pages (User.
// TimeZone: an IANA name the caller checked, "" for none), as one change
// of the account (changeUser: the state copy follows). Errors:
// user.ErrNotFound; one matching user.ErrStateCopyNotWritten when only the
// copy could not be written.
func (db *DB) SetTimeZone(ctx context.Context, id int64, zone string) error {
	if err := db.updateUser(ctx, "time_zone", zone, id); err != nil {
		return fmt.Errorf("store: set time zone: %w", err)
	}
	return nil
}

// updateUser sets one column (a constant chosen by the caller, never
// input) of account id, as one change of the account (changeUser, which
// keeps the state copy right); user.ErrNotFound when no row has that ID.
func (db *DB) updateUser(ctx context.Context, column string, value any, id int64) error {
	return db.changeUser(ctx, id, func(ctx context.Context, tx *sql.Tx) error {
		return db.execUserTx(ctx, tx, "UPDATE users SET "+column+" = ? WHERE id = ?", value, id)
	})
}
