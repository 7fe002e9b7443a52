-- Flow control: instances queued behind a workflow's active-instance limit, and the shared
-- token buckets that pace calls to rate-limited functions.

ALTER TABLE instances DROP CONSTRAINT instances_status_check;
ALTER TABLE instances ADD CONSTRAINT instances_status_check
    CHECK (status IN ('PENDING', 'ACTIVE', 'COMPLETED', 'ERROR', 'ABORTED', 'SUSPENDED'));

-- The queue of each workflow, oldest first: a freed slot starts the head of it.
CREATE INDEX instances_pending_idx ON instances (workflow_id, started_at, id)
    WHERE status = 'PENDING';

-- One row per rate-limit key: `tokens` calls may start now, refilled at `rate` per second
-- up to `burst` since `refilled_at`.
CREATE TABLE call_rates (
    key         text PRIMARY KEY,
    tokens      double precision NOT NULL,
    refilled_at timestamptz NOT NULL
);
