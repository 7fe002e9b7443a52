-- Kogito Job Service v2 jobs and scheduled starts on the 0003 jobs table, and the lease of the
-- one job-trigger invocation that stays awake to fire jobs at their exact time.
-- Expand only: every column is nullable, so the previous release keeps working.

ALTER TABLE jobs
    ADD COLUMN correlation_id       text,
    ADD COLUMN schedule             jsonb,
    ADD COLUMN retry                jsonb,
    ADD COLUMN execution_timeout_ms bigint,
    ADD COLUMN occurrence_at        timestamptz;

COMMENT ON COLUMN jobs.schedule IS
    'v2 schedule ({type: timer|...}) or a workflow start schedule ({type: workflow, ...}); NULL: fire once';
COMMENT ON COLUMN jobs.occurrence_at IS
    'due time of the occurrence being fired while RUNNING or RETRY (expiration_time then holds the lease or next attempt)';

CREATE TABLE job_watch_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    held_until timestamptz NOT NULL
);
