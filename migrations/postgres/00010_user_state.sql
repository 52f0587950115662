-- +goose Up
-- The copy of each account's state beside the sessions (Redis) and the
-- session-side new-device notice (internal/store/userstate.go).
--
-- users.state_version grows by one with every UPDATE that changes the
-- credential epoch, role, disabled flag, email, name or the newest
-- new-device sign-in; a copy only ever replaces an older version.
-- new_device_at_ms (unix milliseconds, 0 = none), _label and _handle are
-- the account's newest sign-in from a new device.
ALTER TABLE users ADD COLUMN state_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN new_device_at_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN new_device_label TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN new_device_handle TEXT NOT NULL DEFAULT '';

UPDATE users u SET
    new_device_at_ms = (extract(epoch FROM d.new_at) * 1000)::BIGINT,
    new_device_label = d.label,
    new_device_handle = d.new_handle
FROM (SELECT DISTINCT ON (user_id) user_id, new_at, label, new_handle FROM known_devices
      WHERE new_at IS NOT NULL ORDER BY user_id, new_at DESC) d
WHERE d.user_id = u.id;

-- Re-authentication rotates a session's token; the row remembers the
-- token it was rotated from (hash) and when (unix ms), so a second,
-- parallel confirmation of the old token can tell "rotated" from
-- "revoked" (session.ErrRotated).
ALTER TABLE sessions ADD COLUMN rotated_from TEXT;
ALTER TABLE sessions ADD COLUMN rotated_at BIGINT;
CREATE INDEX sessions_rotated_from_idx ON sessions (rotated_from);

-- +goose Down
DROP INDEX sessions_rotated_from_idx;
ALTER TABLE sessions DROP COLUMN rotated_at;
ALTER TABLE sessions DROP COLUMN rotated_from;
ALTER TABLE users DROP COLUMN new_device_handle;
ALTER TABLE users DROP COLUMN new_device_label;
ALTER TABLE users DROP COLUMN new_device_at_ms;
ALTER TABLE users DROP COLUMN state_version;
