-- The notification delivery log: one row per (CloudEvent id, channel).
-- A redelivered event finds its row and sends nothing twice; failures, dead letters and
-- refused events stay visible here.
CREATE TABLE notification_deliveries (
    event_id     text NOT NULL,
    channel      text NOT NULL,
    event_type   text NOT NULL,
    instance_id  text,
    workflow_id  text,
    body         jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'PENDING',
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    lease_until  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    CONSTRAINT notification_deliveries_pkey PRIMARY KEY (event_id, channel),
    CONSTRAINT notification_deliveries_channel_check
        CHECK (channel IN ('backstage', 'webhook', 'intake')),
    CONSTRAINT notification_deliveries_status_check
        CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'FAILED', 'DEAD', 'REJECTED', 'REFUSED')),
    CONSTRAINT notification_deliveries_attempts_check CHECK (attempts >= 0)
);

CREATE INDEX notification_deliveries_status_updated_at_idx
    ON notification_deliveries (status, updated_at);

CREATE INDEX notification_deliveries_instance_id_idx
    ON notification_deliveries (instance_id)
    WHERE instance_id IS NOT NULL;
