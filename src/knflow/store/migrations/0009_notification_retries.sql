-- Notifications survive long Backstage outages: a failed delivery is retried on its own
-- schedule (retry_at) until it is too old, instead of dying after a fixed number of
-- attempts; each attempt's outcome and the number of recipients Backstage reached are kept.
-- Expand only: rows of the previous release (retry_at NULL) count as due.
ALTER TABLE notification_deliveries
    ADD COLUMN retry_at        timestamptz,
    ADD COLUMN last_outcome    text,
    ADD COLUMN recipient_count integer,
    ADD CONSTRAINT notification_deliveries_last_outcome_check
        CHECK (last_outcome IN ('SENT', 'NO_RECIPIENTS', 'UNAVAILABLE', 'UNAUTHORIZED',
                                'REJECTED')),
    ADD CONSTRAINT notification_deliveries_recipient_count_check
        CHECK (recipient_count >= 0);

-- The re-drive reads pending rows by when they are due.
CREATE INDEX notification_deliveries_status_retry_at_idx
    ON notification_deliveries (status, retry_at)
    WHERE status IN ('PENDING', 'FAILED');
