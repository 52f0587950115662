-- +goose Up
-- The devices each account signs in from (internal/store/devices.go), for
-- the "new sign-in from …" audit event and notice. device_key is browser
-- family, OS and network prefix (IPv4 /24, IPv6 /48), built by the server;
-- label is what people are shown ("Firefox on Windows"). Times have
-- one-second precision. new_at and new_handle describe the last sign-in
-- from this device that counted as new (NULL and '' when none): its time
-- and the public handle of the session it created, which is not shown its
-- own notice. A row goes with its account.
CREATE TABLE known_devices (
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_key TEXT        NOT NULL,
    label      TEXT        NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    new_at     TIMESTAMPTZ,
    new_handle TEXT        NOT NULL DEFAULT '',
    CONSTRAINT known_devices_pkey PRIMARY KEY (user_id, device_key)
);

-- Every signed-in page asks for the newest new-device sign-in of its user
-- since a time: one seek in this index.
CREATE INDEX known_devices_new_idx ON known_devices (user_id, new_at);

-- +goose Down
DROP TABLE known_devices;
