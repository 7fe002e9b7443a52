-- name: purge_sent_events
-- Published outbox rows past retention, oldest first; unsent rows are never touched.
DELETE FROM outbox
 WHERE id IN (SELECT id
                FROM outbox
               WHERE sent_at < %(before)s
               ORDER BY sent_at
               LIMIT %(limit)s
                 FOR UPDATE SKIP LOCKED)

-- name: purge_received_events
-- Received events past retention, consumed or not: the broker's redeliveries (what the
-- unique (source, id) de-duplicates) come within minutes, never days.
DELETE FROM received_events
 WHERE id IN (SELECT id
                FROM received_events
               WHERE received_at < %(before)s
               ORDER BY received_at
               LIMIT %(limit)s
                 FOR UPDATE SKIP LOCKED)

-- name: purge_instance_trees
-- Ended root instances past retention, with every instance of their tree and what hangs on
-- them: Data Index records, jobs, sealed tokens, kept foreach results (subscriptions follow
-- by cascade). A tree with a subflow still running stays whole. A NULL cut-off (kept
-- forever) matches nothing.
WITH roots AS (
    SELECT root.id
      FROM instances AS root
     WHERE root.parent_instance_id IS NULL
       AND ((root.status IN ('COMPLETED', 'ABORTED') AND root.updated_at < %(ended_before)s)
            OR (root.status = 'ERROR' AND root.updated_at < %(failed_before)s))
       AND NOT EXISTS (SELECT 1
                         FROM instances AS running
                        WHERE running.root_instance_id = root.id
                          AND running.status IN ('ACTIVE', 'SUSPENDED'))
     ORDER BY root.updated_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), doomed AS (
    SELECT id FROM roots
    UNION ALL
    SELECT tree.id FROM instances AS tree JOIN roots ON tree.root_instance_id = roots.id
), index_nodes AS (
    DELETE FROM index_node_instances WHERE process_instance_id IN (SELECT id FROM doomed)
), index_instances AS (
    DELETE FROM index_process_instances WHERE id IN (SELECT id FROM doomed)
), index_jobs AS (
    DELETE FROM index_jobs WHERE process_instance_id IN (SELECT id FROM doomed)
), runtime_jobs AS (
    DELETE FROM jobs WHERE instance_id IN (SELECT id FROM doomed)
), tokens AS (
    DELETE FROM instance_tokens WHERE instance_id IN (SELECT id FROM doomed)
), kept_results AS (
    DELETE FROM child_results WHERE instance_id IN (SELECT id FROM doomed)
)
DELETE FROM instances WHERE id IN (SELECT id FROM doomed)

-- name: purge_finished_jobs
-- Executed, failed and canceled jobs past retention; the Data Index keeps an instance's jobs
-- until the instance goes, and forgets a job without an instance with its row.
WITH finished AS (
    SELECT id
      FROM jobs
     WHERE status IN ('EXECUTED', 'ERROR', 'CANCELED')
       AND updated_at < %(before)s
     ORDER BY updated_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), standalone AS (
    DELETE FROM index_jobs
     WHERE id IN (SELECT id FROM finished) AND process_instance_id IS NULL
)
DELETE FROM jobs WHERE id IN (SELECT id FROM finished)

-- name: purge_notifications
-- Notification deliveries in a final status past retention; pending and failed ones stay
-- (notify's give-up age decides when those end).
DELETE FROM notification_deliveries
 WHERE (event_id, channel) IN (SELECT event_id, channel
                                 FROM notification_deliveries
                                WHERE status IN ('SENT', 'DEAD', 'REJECTED', 'REFUSED')
                                  AND updated_at < %(before)s
                                ORDER BY updated_at
                                LIMIT %(limit)s
                                  FOR UPDATE SKIP LOCKED)

-- name: purge_failed_tokens
-- Sealed tokens instances in ERROR kept for a retrigger, once they failed before `before`;
-- SKIP LOCKED passes over the tokens a retrigger is replacing right now.
DELETE FROM instance_tokens
 WHERE instance_id IN (SELECT t.instance_id
                         FROM instance_tokens AS t
                         JOIN instances AS i ON i.id = t.instance_id
                        WHERE i.status = 'ERROR'
                          AND i.updated_at < %(before)s
                        ORDER BY i.updated_at
                        LIMIT %(limit)s
                          FOR UPDATE OF t SKIP LOCKED)

-- name: purge_start_keys
-- Idempotency keys past their window (`KNFLOW_IDEMPOTENCY_WINDOW_SECONDS`) mean nothing any more.
DELETE FROM start_keys
 WHERE (workflow_id, key_kind, key) IN (SELECT workflow_id, key_kind, key
                                          FROM start_keys
                                         WHERE created_at < %(before)s
                                         ORDER BY created_at
                                         LIMIT %(limit)s
                                           FOR UPDATE SKIP LOCKED)
