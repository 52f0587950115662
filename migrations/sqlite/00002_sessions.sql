-- +goose Up
-- Server-side sessions, written by internal/session. token_hash is the
-- lower-case hex SHA-256 of the session token (the raw token is never
-- stored); data is the encoded session; expiry is unix milliseconds.
-- INTEGER is SQLite's 64-bit integer (BIGINT is not allowed in STRICT tables).
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    data       BLOB    NOT NULL,
    expiry     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- +goose Down
DROP TABLE sessions;
