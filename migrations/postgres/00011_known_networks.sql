-- +goose Up
-- The client networks each account signed in from (internal/store/known_ip.go),
-- for the throttle's exemption of an owner's known networks from the
-- per-account quota. network is clientnet.Of of the client IP: an IPv4
-- address, or an IPv6 /64 ("2001:db8:1:2::/64"). last_login_at is the
-- latest successful sign-in from it (one-second precision). One row per
-- account and network: a lookup is one primary-key seek, whatever the
-- history. It replaces the look-up of login.succeeded audit events by
-- exact IP (migration 00008's index), which missed IPv6 privacy addresses.
CREATE TABLE known_networks (
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    network       TEXT        NOT NULL,
    last_login_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT known_networks_pkey PRIMARY KEY (user_id, network)
);

-- Carry over the IPv4 sign-ins of the audit log (an IPv4 address is its own
-- network); IPv6 networks are learnt again at the next sign-in.
INSERT INTO known_networks (user_id, network, last_login_at)
SELECT subject_id, ip, MAX(time) FROM audit_events
WHERE type = 'login.succeeded' AND ip <> '' AND ip NOT LIKE '%:%'
  AND subject_id IN (SELECT id FROM users)
GROUP BY subject_id, ip;

-- The index of migration 00008 served only the look-up this table replaces.
DROP INDEX audit_events_login_ip_idx;

-- +goose Down
CREATE INDEX audit_events_login_ip_idx ON audit_events (subject_id, ip, time)
    WHERE type = 'login.succeeded';
DROP TABLE known_networks;
