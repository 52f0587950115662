-- +goose Up
-- Login throttling (internal/server/throttle.go) lets an account's known IPs
-- past its per-account quota: has this user signed in from this IP since a
-- time? (store.DB.KnownLoginIP). Without this index the question scans every
-- event of the account since then, and an account under attack has many
-- (each failed login is one). Partial: only successful logins are indexed,
-- so it stays small; queries must say type = 'login.succeeded' literally for
-- it to apply.
CREATE INDEX audit_events_login_ip_idx ON audit_events (subject_id, ip, time)
    WHERE type = 'login.succeeded';

-- +goose Down
DROP INDEX audit_events_login_ip_idx;
