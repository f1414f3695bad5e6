-- Medic's store in PostgreSQL, version 1: every kind of state the embedded
-- store keeps. Times are milliseconds since the Unix epoch (UTC), as the
-- embedded store orders them; each record is kept whole as JSONB beside the
-- columns it is found by. Keys that are listed in order compare byte by
-- byte (COLLATE "C"), as the embedded store's do, whatever the database's
-- locale.

-- One decision per kill: the primary key on kill_id is what makes a kill
-- decided once, whichever replica stores it first.
CREATE TABLE decisions (
    kill_id     TEXT COLLATE "C" PRIMARY KEY,
    decision_id TEXT NOT NULL UNIQUE,
    decided_ms  BIGINT NOT NULL,
    killed_ms   BIGINT NOT NULL,
    module      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    record      JSONB NOT NULL
);
CREATE INDEX decisions_by_time ON decisions (decided_ms, kill_id);
CREATE INDEX decisions_by_kill_time ON decisions (killed_ms);
CREATE INDEX decisions_by_module ON decisions (module, killed_ms);
CREATE INDEX decisions_auto ON decisions (decided_ms) WHERE outcome = 'approve_auto';

CREATE TABLE audit (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL,
    kill_id     TEXT,
    decision_id TEXT,
    actor       TEXT NOT NULL,
    details     JSONB NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);

CREATE TABLE dead_letters (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms  BIGINT NOT NULL,
    letter JSONB NOT NULL
);
CREATE INDEX dead_letters_by_time ON dead_letters (at_ms, id);

-- The approval queue: pending items and decided ones, by item id (ids are
-- time-ordered, so the oldest come first).
CREATE TABLE queue_items (
    item_id     TEXT COLLATE "C" PRIMARY KEY,
    pending     BOOLEAN NOT NULL,
    decision_ms BIGINT NOT NULL,
    item        JSONB NOT NULL
);
CREATE INDEX queue_items_pending ON queue_items (item_id) WHERE pending;

-- People's verdicts, once per queue item.
CREATE TABLE human_verdicts (
    item_id  TEXT COLLATE "C" PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    module   TEXT NOT NULL,
    approved BOOLEAN NOT NULL,
    verdict  JSONB NOT NULL
);
CREATE INDEX human_verdicts_by_time ON human_verdicts (at_ms, item_id);

CREATE TABLE requests (
    request_id TEXT COLLATE "C" PRIMARY KEY,
    final      BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    request    JSONB NOT NULL
);
CREATE INDEX requests_unfinished ON requests (request_id) WHERE NOT final;

CREATE TABLE outcomes (
    outcome_id  TEXT COLLATE "C" PRIMARY KEY,
    recorded_ms BIGINT NOT NULL,
    module      TEXT NOT NULL,
    result      TEXT NOT NULL,
    record      JSONB NOT NULL
);
CREATE INDEX outcomes_by_time ON outcomes (recorded_ms, outcome_id);
CREATE INDEX outcomes_by_module ON outcomes (module, recorded_ms, outcome_id);

CREATE TABLE threshold_changes (
    id     BIGINT PRIMARY KEY,
    change JSONB NOT NULL
);
CREATE SEQUENCE threshold_change_ids;

-- The thresholds in force and when learning last ran.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value JSONB NOT NULL
);

CREATE TABLE plugin_bindings (
    phase   TEXT COLLATE "C" NOT NULL,
    kind    TEXT COLLATE "C" NOT NULL,
    binding JSONB NOT NULL,
    PRIMARY KEY (phase, kind)
);

CREATE TABLE shadow_decisions (
    kill_id    TEXT COLLATE "C" PRIMARY KEY,
    decided_ms BIGINT NOT NULL,
    record     JSONB NOT NULL
);
CREATE INDEX shadow_decisions_by_time ON shadow_decisions (decided_ms, kill_id);

-- Responses to Smith waiting until Redis has them.
CREATE TABLE outbox (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    response JSONB NOT NULL
);
