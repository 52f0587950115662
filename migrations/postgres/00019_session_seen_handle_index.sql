-- +goose Up
-- The admin view pages through sessions by last activity with a cursor
-- (keyset pagination, session.Query.After/Before): WHERE (seen, handle) <
-- (?, ?) ORDER BY seen DESC, handle DESC LIMIT ?, handle (unique) breaking
-- ties of equal times. With the index in that order, a page at any depth
-- is one index range of its own length; expiry stays in the index so that
-- the page is still found from the index alone (see SQLStore.Sessions and
-- 00005).
DROP INDEX sessions_seen_idx;
CREATE INDEX sessions_seen_idx ON sessions (seen, handle, expiry);

-- +goose Down
DROP INDEX sessions_seen_idx;
CREATE INDEX sessions_seen_idx ON sessions (seen, expiry, handle);
