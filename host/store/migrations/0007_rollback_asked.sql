-- Version 7: a rollback asked through any replica reaches the replica
-- watching the request. The API writes what was asked (reason, who, when)
-- on the request; the replica that owns it reads it when it stamps its
-- requests (every 2 s) and rolls back.
ALTER TABLE requests ADD COLUMN rollback_asked JSONB;
