-- Version 2: the hourly cap on automatic resurrections, shared by every
-- replica. Each automatic approval takes a row here, under an advisory
-- lock, only while fewer than the cap were taken in the last hour; rows a
-- day old are swept.
CREATE TABLE auto_approvals (
    kill_id TEXT COLLATE "C" PRIMARY KEY,
    at_ms   BIGINT NOT NULL
);
CREATE INDEX auto_approvals_by_time ON auto_approvals (at_ms);
