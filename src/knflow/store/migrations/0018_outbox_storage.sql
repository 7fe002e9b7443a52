-- Storage per instance: an event's payload is written once, and two indexes no query reads
-- are gone.
--
-- Marking an outbox row sent is an UPDATE (not HOT: sent_at is indexed), which writes a
-- whole new row version. A grouped process event is a few kB of JSON, compressed inline to
-- over 1 kB, so every sent event was stored twice, and logged twice. Kept out of line in the
-- TOAST table instead, the payload is written once and the new version carries only the
-- 18-byte pointer to it. Marking a received event consumed is the same kind of UPDATE
-- (consumed_at is indexed), so received_events gets the same setting.
--
-- Rows go through the toaster only past ~2 kB (TOAST_TUPLE_THRESHOLD); once there, 512 is
-- the size the toaster shrinks the row to: the payload moves out, and the row's short texts
-- (ids, source and type, well under 512 bytes together) stay in place. At 128 (the minimum)
-- each of those would become a TOAST value of its own.
--
-- No statement filters the outbox by instance_id. What instances_active_updated_at_idx served
-- is served by two other indexes (EXPLAIN): a workflow's active instances by
-- instances_workflow_id_status_idx, the sweeps by instances_running_updated_at_idx (0015).
-- Each was one more index entry written for every event, or every step.

ALTER TABLE outbox SET (toast_tuple_target = 512);

ALTER TABLE received_events SET (toast_tuple_target = 512);

DROP INDEX IF EXISTS outbox_instance_id_idx;

DROP INDEX IF EXISTS instances_active_updated_at_idx;
