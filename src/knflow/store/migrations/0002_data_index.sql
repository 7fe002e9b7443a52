-- The Data Index projection: what data-index-sink builds from the Kogito events and
-- serves over GraphQL. Rebuildable at any time from the runtime's own tables
-- (`knflow index rebuild`), so it holds nothing that exists only here.

CREATE TABLE index_process_definitions (
    id          text NOT NULL,
    version     text NOT NULL,
    name        text,
    description text,
    type        text,
    endpoint    text,
    service_url text,
    source      text,
    annotations jsonb NOT NULL DEFAULT '[]',
    roles       jsonb NOT NULL DEFAULT '[]',
    addons      jsonb NOT NULL DEFAULT '[]',
    metadata    jsonb NOT NULL DEFAULT '{}',
    nodes       jsonb NOT NULL DEFAULT '[]',
    -- CE time of the newest event applied: newer events override, older ones fill gaps.
    updated_at  timestamptz NOT NULL,
    CONSTRAINT index_process_definitions_pkey PRIMARY KEY (id, version)
);

CREATE TABLE index_process_instances (
    id                         text NOT NULL,
    process_id                 text NOT NULL,
    version                    text,
    process_name               text,
    parent_process_instance_id text,
    root_process_instance_id   text,
    root_process_id            text,
    roles                      jsonb NOT NULL DEFAULT '[]',
    addons                     jsonb NOT NULL DEFAULT '[]',
    -- ProcessInstanceState ordinal: 0 PENDING .. 5 ERROR.
    state                      smallint,
    -- The state comes from the event with the greatest (final, date, state) key, which
    -- makes the merge order-independent; COMPLETED and ABORTED are final.
    state_final                boolean NOT NULL DEFAULT false,
    state_date                 timestamptz,
    endpoint                   text NOT NULL DEFAULT '',
    service_url                text,
    variables                  jsonb NOT NULL DEFAULT '{}',
    -- Event date per variable name: an older value never replaces a newer one.
    variable_dates             jsonb NOT NULL DEFAULT '{}',
    start                      timestamptz,
    "end"                      timestamptz,
    last_update                timestamptz NOT NULL,
    business_key               text,
    identity                   text,
    created_by                 text,
    updated_by                 text,
    sla_due_date               timestamptz,
    cloud_event_id             text,
    cloud_event_source         text,
    -- Date of the newest state event whose descriptive fields were applied.
    fields_date                timestamptz,
    error_node_definition_id   text,
    error_node_instance_id     text,
    error_message              text,
    error_date                 timestamptz,
    -- The error is shown only while it is newer than the last retrigger.
    retrigger_date             timestamptz,
    CONSTRAINT index_process_instances_pkey PRIMARY KEY (id),
    CONSTRAINT index_process_instances_state_check CHECK (state BETWEEN 0 AND 5)
);

-- The plugin's list (Q5) filters on processId and orders by start.
CREATE INDEX index_process_instances_process_id_start_idx
    ON index_process_instances (process_id, start);
CREATE INDEX index_process_instances_start_idx
    ON index_process_instances (start);
CREATE INDEX index_process_instances_parent_process_instance_id_idx
    ON index_process_instances (parent_process_instance_id);
CREATE INDEX index_process_instances_root_process_instance_id_idx
    ON index_process_instances (root_process_instance_id);
-- JSON filters on variables (initiatorEntity, targetEntity) are containment tests.
CREATE INDEX index_process_instances_variables_idx
    ON index_process_instances USING gin (variables jsonb_path_ops);

CREATE TABLE index_node_instances (
    process_instance_id text NOT NULL,
    id                  text NOT NULL,
    name                text,
    type                text,
    definition_id       text,
    node_id             text,
    -- NULL until a node event arrives (an error event may come first).
    enter               timestamptz,
    exit                timestamptz,
    sla_due_date        timestamptz,
    retrigger           boolean,
    error_message       text,
    error_date          timestamptz,
    cancel_type         text,
    input_args          jsonb,
    output_args         jsonb,
    CONSTRAINT index_node_instances_pkey PRIMARY KEY (process_instance_id, id),
    CONSTRAINT index_node_instances_cancel_type_check
        CHECK (cancel_type IN ('ABORTED', 'SKIPPED', 'OBSOLETE', 'ERROR'))
);

CREATE TABLE index_jobs (
    id                       text NOT NULL,
    process_id               text,
    process_instance_id      text,
    node_instance_id         text,
    root_process_instance_id text,
    root_process_id          text,
    status                   text NOT NULL,
    expiration_time          timestamptz,
    priority                 integer,
    callback_endpoint        text,
    repeat_interval          integer,
    repeat_limit             integer,
    scheduled_id             text,
    retries                  integer,
    last_update              timestamptz,
    execution_counter        integer,
    endpoint                 text,
    exception_message        text,
    exception_details        text,
    CONSTRAINT index_jobs_pkey PRIMARY KEY (id),
    CONSTRAINT index_jobs_status_check
        CHECK (status IN ('ERROR', 'RUNNING', 'EXECUTED', 'SCHEDULED', 'RETRY', 'CANCELED'))
);

CREATE INDEX index_jobs_process_instance_id_idx ON index_jobs (process_instance_id);
