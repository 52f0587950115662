-- +goose Up
-- The time zone a person chose on the profile for the times on the pages
-- (an IANA name of internal/locale.Zones, "Asia/Seoul"); '' = none chosen
-- (the pages guess from the browser's language, else UTC). Part of the
-- account's state copy beside the sessions (internal/store/userstate.go):
-- a change goes through changeUser and moves state_version.
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN time_zone;
