-- +goose Up
-- Server-side sessions, written by internal/session. token_hash is the
-- lower-case hex SHA-256 of the session token (the raw token is never
-- stored); data is the encoded session; expiry is unix milliseconds.
CREATE TABLE sessions (
    token_hash TEXT   PRIMARY KEY,
    data       BYTEA  NOT NULL,
    expiry     BIGINT NOT NULL
);

CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- +goose Down
DROP TABLE sessions;
