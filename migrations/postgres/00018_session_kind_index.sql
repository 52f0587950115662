-- +goose Up
-- The admin overview counts active sessions by kind (SQLStore.CountByKind).
-- An app session's stored User-Agent starts with the 5 bytes 0x01 "app"
-- 0x01 (internal/session appAgentMark); this index on that prefix and the
-- expiry makes the count of active app sessions one index range, read
-- from the index alone. Queries must spell the expression exactly as
-- here: substr(user_agent, 1, 5).
CREATE INDEX sessions_kind_expiry_idx ON sessions ((substr(user_agent, 1, 5)), expiry);

-- +goose Down
DROP INDEX sessions_kind_expiry_idx;
