-- Timers: every time-based construct is a job row (Kogito Job Service v2 shape).

CREATE TABLE jobs (
    id                  text PRIMARY KEY,
    status              text NOT NULL DEFAULT 'SCHEDULED',
    expiration_time     timestamptz NOT NULL,
    recipient           jsonb NOT NULL,
    payload             jsonb,
    instance_id         text,
    workflow_id         text,
    root_instance_id    text,
    root_workflow_id    text,
    node_instance_id    text,
    repeat_interval_ms  bigint,
    repeat_limit        integer NOT NULL DEFAULT 0,
    retries             integer NOT NULL DEFAULT 0,
    execution_counter   integer NOT NULL DEFAULT 0,
    priority            integer NOT NULL DEFAULT 0,
    last_error          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT jobs_status_check
        CHECK (status IN ('SCHEDULED', 'RUNNING', 'EXECUTED', 'RETRY', 'ERROR', 'CANCELED'))
);

CREATE INDEX jobs_due_idx ON jobs (expiration_time) WHERE status IN ('SCHEDULED', 'RETRY');
CREATE INDEX jobs_instance_id_idx ON jobs (instance_id);
