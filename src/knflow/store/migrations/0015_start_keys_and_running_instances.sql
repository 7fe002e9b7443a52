-- Idempotent starts: the key a start request carried (its Idempotency-Key header, or
-- SonataFlow's businessKey query parameter) and the instance that start created. A retried
-- start with the same key finds the first instance instead of creating a second, while the
-- row is younger than KNFLOW_IDEMPOTENCY_WINDOW_SECONDS; an older row is taken over.
--
-- The primary key makes concurrent starts with one key race-free: the second INSERT waits for
-- the first start's transaction and then finds its row.

CREATE TABLE start_keys (
    workflow_id  text NOT NULL,
    key_kind     text NOT NULL,
    key          text NOT NULL,
    instance_id  text NOT NULL,
    request_hash text NOT NULL,
    created_at   timestamptz NOT NULL,
    CONSTRAINT start_keys_pkey PRIMARY KEY (workflow_id, key_kind, key),
    CONSTRAINT start_keys_key_kind_check CHECK (key_kind IN ('IDEMPOTENCY_KEY', 'BUSINESS_KEY'))
);

CREATE INDEX start_keys_created_at_idx ON start_keys (created_at);

-- Instances that could run (the sweeps' question, asked every few seconds while work is in
-- flight): a small index even when many instances wait for events or timers.
CREATE INDEX instances_running_updated_at_idx ON instances (updated_at)
 WHERE status = 'ACTIVE' AND NOT waiting;
