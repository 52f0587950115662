-- +goose Up
-- Security events (internal/audit), written by internal/store. time is unix
-- seconds (UTC), like users.created_at. actor_id and subject_id name users
-- but have no foreign key, so the history outlives the accounts it
-- mentions (user IDs are never reused); NULL means "nobody known". The
-- other text columns are '' when they do not apply.
CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    time           INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    via            TEXT    NOT NULL DEFAULT '',
    actor_id       INTEGER,
    subject_id     INTEGER,
    email          TEXT    NOT NULL DEFAULT '',
    ip             TEXT    NOT NULL DEFAULT '',
    user_agent     TEXT    NOT NULL DEFAULT '',
    session_handle TEXT    NOT NULL DEFAULT '',
    detail         TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Listings are newest first (time DESC, id DESC): one index per filter.
CREATE INDEX audit_events_subject_time_idx ON audit_events (subject_id, time, id);
CREATE INDEX audit_events_actor_time_idx ON audit_events (actor_id, time, id);
CREATE INDEX audit_events_type_time_idx ON audit_events (type, time, id);
CREATE INDEX audit_events_time_idx ON audit_events (time, id);

-- +goose Down
DROP TABLE audit_events;
