-- Version 3: replicas share the outbox. A replica takes a batch of waiting
-- responses for a while (a lease) before publishing them, so the others
-- skip them; a replica that dies holding a lease lets go when it ends.
-- The holder sees its own batch again when it retries (Redis was down).
ALTER TABLE outbox ADD COLUMN leased_until_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN leased_by TEXT;
