-- Version 5: what replicas must agree on beyond the hourly cap.
--
-- modules: each module's state that guardrails rule on, taken under the
-- row's lock when a resurrection is granted: which kill's resurrection
-- holds it busy (and since when), when it was last brought back (its
-- cooldown runs from there) and until when it is in a flapping cooldown.
CREATE TABLE modules (
    module              TEXT COLLATE "C" PRIMARY KEY,
    busy_kill           TEXT COLLATE "C",
    busy_since_ms       BIGINT NOT NULL DEFAULT 0,
    last_resurrected_ms BIGINT NOT NULL DEFAULT 0,
    flapping_until_ms   BIGINT NOT NULL DEFAULT 0
);

-- A request is run by one replica, its owner, which stamps heartbeat_ms
-- every few seconds; a request whose owner stopped stamping is taken over
-- by another replica, which finishes it.
ALTER TABLE requests ADD COLUMN kill_id TEXT COLLATE "C";
ALTER TABLE requests ADD COLUMN owner TEXT;
ALTER TABLE requests ADD COLUMN heartbeat_ms BIGINT NOT NULL DEFAULT 0;
UPDATE requests SET kill_id = request->>'kill_id';
CREATE INDEX requests_unfinished_by_kill ON requests (kill_id) WHERE NOT final;

-- Each kind of change every replica must apply (plugin bindings,
-- thresholds, the mode) has a revision that goes up with each change;
-- replicas poll the few rows and apply what moved.
CREATE TABLE revisions (
    kind     TEXT PRIMARY KEY,
    revision BIGINT NOT NULL
);
