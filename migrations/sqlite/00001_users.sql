-- +goose Up
-- Accounts. email is shown to people; email_key (lower-cased email) is what
-- lookups and the uniqueness rule use. AUTOINCREMENT so an ID is never reused
-- after a delete: a stale session naming a deleted user's ID must not match a
-- newer account. created_at is unix seconds (UTC).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'user',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL DEFAULT (unixepoch()),
    CONSTRAINT users_email_key_unique UNIQUE (email_key),
    CONSTRAINT users_role_check CHECK (role IN ('user', 'admin')),
    CONSTRAINT users_disabled_check CHECK (disabled IN (0, 1))
) STRICT;

-- +goose Down
DROP TABLE users;
