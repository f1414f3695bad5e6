-- Version 4: one replica does the work that must run once (queue expiry,
-- retention, scheduled learning). It holds a session advisory lock per
-- role for as long as its connection lives; each time a replica takes a
-- role its epoch goes up, so a leader that lost its lock unnoticed finds
-- its epoch old and stands down.
CREATE TABLE leaders (
    role   TEXT PRIMARY KEY,
    epoch  BIGINT NOT NULL,
    holder TEXT NOT NULL,
    since  TIMESTAMPTZ NOT NULL DEFAULT now()
);
