-- name: lock_workflow_slots
-- Transaction-level advisory lock per workflow id: every start, queueing and promotion of a
-- workflow with an active-instance limit counts and changes its slots under it, so two
-- processes never both take the last slot. Released by the commit.
SELECT pg_advisory_xact_lock(hashtextextended('knflow.slots:' || %(workflow_id)s, 0))

-- name: count_slots
-- Instances holding a slot (ACTIVE, SUSPENDED) and waiting for one (PENDING).
SELECT count(*) FILTER (WHERE status IN ('ACTIVE', 'SUSPENDED')) AS active,
       count(*) FILTER (WHERE status = 'PENDING') AS pending
  FROM instances
 WHERE workflow_id = %(workflow_id)s
   AND status IN ('PENDING', 'ACTIVE', 'SUSPENDED')

-- name: oldest_pending
-- The head of a workflow's queue. SKIP LOCKED: a queued instance being aborted right now
-- holds its row lock and is not waited for (it leaves the queue anyway).
SELECT id
  FROM instances
 WHERE workflow_id = %(workflow_id)s
   AND status = 'PENDING'
 ORDER BY started_at, id
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED

-- name: queued_workflows
SELECT DISTINCT workflow_id
  FROM instances
 WHERE status = 'PENDING'

-- name: keep_start_event
INSERT INTO queued_start_events (instance_id, event_ref, event)
VALUES (%(instance_id)s, %(event_ref)s, %(event)s)
ON CONFLICT (instance_id) DO NOTHING

-- name: take_start_event
DELETE FROM queued_start_events
 WHERE instance_id = %(instance_id)s
RETURNING event_ref, event

-- name: take_call
-- Token bucket per rate-limit key, refilled by elapsed time up to `burst`, in one atomic
-- upsert: the row lock serialises every process calling through the same key, and the
-- database's clock, read under that lock, is the one clock they all share. A call may start
-- when a whole token was left; otherwise its turn comes when the debt is refilled.
INSERT INTO call_rates AS bucket (key, tokens, refilled_at)
VALUES (%(key)s, %(burst)s - 1, clock_timestamp())
ON CONFLICT (key) DO UPDATE
   SET tokens = LEAST(%(burst)s,
                      bucket.tokens + %(rate)s * GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - bucket.refilled_at)))
                - 1,
       refilled_at = GREATEST(bucket.refilled_at, clock_timestamp())
RETURNING tokens, refilled_at
