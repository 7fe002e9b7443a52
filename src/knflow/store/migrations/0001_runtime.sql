-- The runtime's own tables: definitions, instances, the transactional outbox, de-duplication.

CREATE TABLE definitions (
    workflow_id   text NOT NULL,
    version       text NOT NULL,
    name          text NOT NULL,
    description   text,
    source        jsonb NOT NULL,
    checksum      text NOT NULL,
    status        text NOT NULL DEFAULT 'AVAILABLE',
    registered_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT definitions_pkey PRIMARY KEY (workflow_id, version),
    CONSTRAINT definitions_status_check CHECK (status IN ('AVAILABLE', 'UNAVAILABLE'))
);

CREATE INDEX definitions_workflow_id_registered_at_idx ON definitions (workflow_id, registered_at DESC);

CREATE TABLE instances (
    id                 text PRIMARY KEY,
    workflow_id        text NOT NULL,
    workflow_version   text NOT NULL,
    status             text NOT NULL,
    revision           integer NOT NULL DEFAULT 0,
    data               jsonb NOT NULL DEFAULT '{}'::jsonb,
    variables          jsonb NOT NULL DEFAULT '{}'::jsonb,
    execution          jsonb NOT NULL DEFAULT '{}'::jsonb,
    waiting            boolean NOT NULL DEFAULT false,
    headers            jsonb NOT NULL DEFAULT '{}'::jsonb,
    business_key       text,
    parent_instance_id text,
    parent_thread_id   text,
    parent_key         text,
    root_instance_id   text,
    root_workflow_id   text,
    error_state        text,
    error_node         text,
    error_message      text,
    started_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    ended_at           timestamptz,
    CONSTRAINT instances_status_check
        CHECK (status IN ('ACTIVE', 'COMPLETED', 'ERROR', 'ABORTED', 'SUSPENDED')),
    CONSTRAINT instances_workflow_fkey FOREIGN KEY (workflow_id, workflow_version)
        REFERENCES definitions (workflow_id, version)
);

CREATE INDEX instances_workflow_id_status_idx ON instances (workflow_id, status);
CREATE INDEX instances_parent_instance_id_idx ON instances (parent_instance_id)
    WHERE parent_instance_id IS NOT NULL;
CREATE UNIQUE INDEX instances_parent_key_idx ON instances (parent_instance_id, parent_key)
    WHERE parent_key IS NOT NULL;
CREATE INDEX instances_active_updated_at_idx ON instances (updated_at) WHERE status = 'ACTIVE';

CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    instance_id     text,
    event           jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    CONSTRAINT outbox_event_id_key UNIQUE (event_id)
);

CREATE INDEX outbox_unsent_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_instance_id_idx ON outbox (instance_id);

CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     text NOT NULL,
    event_source text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT processed_events_pkey PRIMARY KEY (consumer, event_source, event_id)
);
