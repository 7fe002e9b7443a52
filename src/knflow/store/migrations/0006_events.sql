-- Consumed events: what waiting instances subscribe to, and events kept until a wait claims them.

ALTER TABLE instances ADD COLUMN correlation jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE TABLE subscriptions (
    instance_id  text NOT NULL,
    thread_id    text NOT NULL,
    wait_key     text NOT NULL,
    event_ref    text NOT NULL,
    event_type   text NOT NULL,
    event_source text,
    correlation  jsonb NOT NULL DEFAULT '{}'::jsonb,
    business_key text,
    created_at   timestamptz NOT NULL,
    CONSTRAINT subscriptions_pkey PRIMARY KEY (instance_id, wait_key, event_ref),
    CONSTRAINT subscriptions_instance_fkey FOREIGN KEY (instance_id) REFERENCES instances (id) ON DELETE CASCADE
);

CREATE INDEX subscriptions_event_type_idx ON subscriptions (event_type);

CREATE TABLE received_events (
    id           bigserial PRIMARY KEY,
    event_id     text NOT NULL,
    event_source text NOT NULL,
    event_type   text NOT NULL,
    event        jsonb NOT NULL,
    received_at  timestamptz NOT NULL,
    consumed_at  timestamptz,
    consumed_by  text,
    CONSTRAINT received_events_source_id_key UNIQUE (event_source, event_id)
);

CREATE INDEX received_events_unconsumed_idx ON received_events (event_type, received_at)
    WHERE consumed_at IS NULL;
