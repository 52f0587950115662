-- +goose Up
-- The admin view pages through sessions by last activity (ORDER BY seen DESC
-- LIMIT/OFFSET, filtered on expiry and handle). With expiry and handle in
-- the index (whose entries also carry the primary key, token_hash), the
-- page is found from the index alone and only its rows are read from the
-- table (see SQLStore.Sessions).
DROP INDEX sessions_seen_idx;
CREATE INDEX sessions_seen_idx ON sessions (seen, expiry, handle);

-- +goose Down
DROP INDEX sessions_seen_idx;
CREATE INDEX sessions_seen_idx ON sessions (seen);
