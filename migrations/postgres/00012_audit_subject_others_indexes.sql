-- +goose Up
-- The events done to a user by someone else (an administrator, the CLI, a
-- failed login with no actor), newest first: the "I was the subject" half
-- of a user's listing (store.DB.AuditEvents with a user; the "I acted"
-- half has the actor indexes). The half leaves out the events the user
-- did to themselves (they are in the other half), and most of a user's
-- events are those (every sign-in): with 00009's (subject_id, type, time,
-- id) index the half had to read past all of them, so the profile cost
-- grew with the user's history (a user with 10,000 events: 20x slower than
-- one with none). These partial indexes hold only the others' events, so
-- the half reads O(page) entries. Queries must repeat the predicate
-- exactly for either database to use them.
CREATE INDEX audit_events_subject_others_time_idx ON audit_events (subject_id, time, id)
    WHERE actor_id IS NULL OR actor_id <> subject_id;
CREATE INDEX audit_events_subject_others_type_time_idx ON audit_events (subject_id, type, time, id)
    WHERE actor_id IS NULL OR actor_id <> subject_id;

-- +goose Down
DROP INDEX audit_events_subject_others_type_time_idx;
DROP INDEX audit_events_subject_others_time_idx;
