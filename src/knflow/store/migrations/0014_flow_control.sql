-- Flow control: instances queued behind a workflow's active-instance limit, and the shared
-- token buckets that pace calls to rate-limited functions.

ALTER TABLE instances DROP CONSTRAINT instances_status_check;
ALTER TABLE instances ADD CONSTRAINT instances_status_check
    CHECK (status IN ('PENDING', 'ACTIVE', 'COMPLETED', 'ERROR', 'ABORTED', 'SUSPENDED'));

-- The queue of each workflow, oldest first: a freed slot starts the head of it.
CREATE INDEX instances_pending_idx ON instances (workflow_id, started_at, id)
    WHERE status = 'PENDING';

-- The event that started a queued instance of an event-started workflow (SW 0.8 start
-- event state), handed to it when it leaves the queue; deleted with its instance.
CREATE TABLE queued_start_events (
    instance_id text NOT NULL,
    event_ref   text NOT NULL,
    event       jsonb NOT NULL,
    CONSTRAINT queued_start_events_pkey PRIMARY KEY (instance_id),
    CONSTRAINT queued_start_events_instance_id_fkey FOREIGN KEY (instance_id)
        REFERENCES instances (id) ON DELETE CASCADE
);

-- One row per rate-limit key: `tokens` calls may start now, refilled at `rate` per second
-- up to `burst` since `refilled_at`.
CREATE TABLE call_rates (
    key         text NOT NULL,
    tokens      double precision NOT NULL,
    refilled_at timestamptz NOT NULL,
    CONSTRAINT call_rates_pkey PRIMARY KEY (key)
);
