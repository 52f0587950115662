-- +goose Up
-- Credential epoch and one-time password reset links.
--
-- users.sessions_valid_after is unix seconds (0 = never set). A password
-- change or reset, disabling the account and a role change set it to the
-- time of the change; a session whose password was last entered (at login
-- or re-authentication) before it is not honoured any more (see
-- internal/server requireUser).
ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;

-- A reset link's token is never stored: token_hash is the lower-case hex
-- SHA-256 of it. Times have one-second precision, like users.created_at;
-- used_at is NULL until the link is used. Rows go with their account.
CREATE TABLE password_resets (
    token_hash TEXT        PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created    TIMESTAMPTZ NOT NULL,
    expires    TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX password_resets_user_idx ON password_resets (user_id);
CREATE INDEX password_resets_expires_idx ON password_resets (expires);

-- +goose Down
DROP TABLE password_resets;
ALTER TABLE users DROP COLUMN sessions_valid_after;
