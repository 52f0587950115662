-- +goose Up
-- Accounts. email is shown to people; email_key (lower-cased email) is what
-- lookups and the uniqueness rule use. Identity values are never reused.
CREATE TABLE users (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT        NOT NULL,
    email_key     TEXT        NOT NULL,
    name          TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    role          TEXT        NOT NULL DEFAULT 'user',
    disabled      BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now()),
    CONSTRAINT users_email_key_unique UNIQUE (email_key),
    CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'))
);

-- +goose Down
DROP TABLE users;
