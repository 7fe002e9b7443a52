-- Retention: the indexes the reconcile's bounded purges walk, and a table nothing uses.
--
-- Each purge deletes the oldest finished rows first, a batch at a time, so each needs an
-- index on the time it is counted from, limited to the rows it may delete.

CREATE INDEX outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE INDEX received_events_received_at_idx ON received_events (received_at);

CREATE INDEX instances_ended_roots_idx ON instances (updated_at)
    WHERE parent_instance_id IS NULL AND status IN ('COMPLETED', 'ABORTED', 'ERROR');

CREATE INDEX instances_root_instance_id_idx ON instances (root_instance_id)
    WHERE root_instance_id IS NOT NULL;

CREATE INDEX jobs_finished_updated_at_idx ON jobs (updated_at)
    WHERE status IN ('EXECUTED', 'ERROR', 'CANCELED');

-- De-duplication moved to the consumers' own rows (received_events, notification
-- deliveries, instance revisions); this table has been written by nothing since.
DROP TABLE processed_events;
