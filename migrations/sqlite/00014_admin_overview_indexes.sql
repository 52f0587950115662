-- +goose Up
-- The admin overview (/admin: store.DB.LoginActivity, CountDisabledUsers).
--
-- Throttle refusals are audited as login.failed with a detail beginning
-- "throttled (" (audit.ThrottledDetailPrefix; at most one per account and
-- client network a minute). To tell them from failed password checks per
-- hour without reading every failed event's row, this partial index holds
-- only them, keyed by time: an hour's count is one index range, read from
-- the index alone. The other counts use audit_events_type_time_idx
-- (00004), also index-only. Queries must repeat the predicate exactly for
-- either database to use the index.
CREATE INDEX audit_events_login_throttled_time_idx ON audit_events (time)
    WHERE type = 'login.failed' AND detail LIKE 'throttled (%';

-- Disabled accounts are few: counting them reads only this index, not
-- every account. Queries must say "WHERE disabled = 1" literally.
CREATE INDEX users_disabled_idx ON users (id) WHERE disabled = 1;

-- +goose Down
DROP INDEX users_disabled_idx;
DROP INDEX audit_events_login_throttled_time_idx;
