-- +goose Up
-- Security events (internal/audit), written by internal/store. time has
-- one-second precision, like users.created_at. actor_id and subject_id name
-- users but have no foreign key, so the history outlives the accounts it
-- mentions (user IDs are never reused); NULL means "nobody known". The
-- other text columns are '' when they do not apply.
CREATE TABLE audit_events (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time           TIMESTAMPTZ NOT NULL,
    type           TEXT        NOT NULL,
    via            TEXT        NOT NULL DEFAULT '',
    actor_id       BIGINT,
    subject_id     BIGINT,
    email          TEXT        NOT NULL DEFAULT '',
    ip             TEXT        NOT NULL DEFAULT '',
    user_agent     TEXT        NOT NULL DEFAULT '',
    session_handle TEXT        NOT NULL DEFAULT '',
    detail         TEXT        NOT NULL DEFAULT ''
);

-- Listings are newest first (time DESC, id DESC): one index per filter.
CREATE INDEX audit_events_subject_time_idx ON audit_events (subject_id, time, id);
CREATE INDEX audit_events_actor_time_idx ON audit_events (actor_id, time, id);
CREATE INDEX audit_events_type_time_idx ON audit_events (type, time, id);
CREATE INDEX audit_events_time_idx ON audit_events (time, id);

-- +goose Down
DROP TABLE audit_events;
