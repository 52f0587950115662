-- +goose Up
-- A user's events of one type, newest first (store.DB.AuditEvents with a
-- user and a type: the profile's last successful and last failed sign-in,
-- the admin audit page filtered by account and type). The user filter is
-- two ranges merged, "I acted" and "I was the subject", and with these
-- indexes each range is already in (time, id) order, so a page reads
-- O(page) entries and sorts nothing: without them, a user's events of one
-- type were found by walking all of that user's events (or, on
-- PostgreSQL, the global type index past every other user's events).
CREATE INDEX audit_events_actor_type_time_idx ON audit_events (actor_id, type, time, id);
CREATE INDEX audit_events_subject_type_time_idx ON audit_events (subject_id, type, time, id);

-- +goose Down
DROP INDEX audit_events_subject_type_time_idx;
DROP INDEX audit_events_actor_type_time_idx;
