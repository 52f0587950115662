-- +goose Up
-- The session registry (internal/session.Registry): who a session belongs
-- to and what a person may see about it, never the token. handle is the
-- public name of the session; times are unix milliseconds; remember is 0 or 1.
-- Rows written without registry data (none in Latch itself) keep NULLs.
ALTER TABLE sessions ADD COLUMN handle TEXT;
ALTER TABLE sessions ADD COLUMN user_id INTEGER;
ALTER TABLE sessions ADD COLUMN created INTEGER;
ALTER TABLE sessions ADD COLUMN seen INTEGER;
ALTER TABLE sessions ADD COLUMN absolute INTEGER;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN remember INTEGER;

CREATE UNIQUE INDEX sessions_handle_idx ON sessions (handle);
CREATE INDEX sessions_user_idx ON sessions (user_id, seen);
CREATE INDEX sessions_seen_idx ON sessions (seen);
CREATE INDEX sessions_ip_idx ON sessions (ip, seen);

-- +goose Down
DROP INDEX sessions_ip_idx;
DROP INDEX sessions_seen_idx;
DROP INDEX sessions_user_idx;
DROP INDEX sessions_handle_idx;
ALTER TABLE sessions DROP COLUMN remember;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN absolute;
ALTER TABLE sessions DROP COLUMN seen;
ALTER TABLE sessions DROP COLUMN created;
ALTER TABLE sessions DROP COLUMN user_id;
ALTER TABLE sessions DROP COLUMN handle;
