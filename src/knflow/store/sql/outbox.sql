-- name: enqueue_event
-- Written in the same transaction as the state change it describes; a repeated id is a no-op.
INSERT INTO outbox (event_id, event_type, instance_id, event, next_attempt_at)
VALUES (%(event_id)s, %(event_type)s, %(instance_id)s, %(event)s, %(now)s)
ON CONFLICT (event_id) DO NOTHING
RETURNING id

-- name: enqueue_events
-- All events of one unit of work in one statement, passed as one JSON array (a jsonb[]
-- parameter costs an escaping pass per character on the client); a repeated id is a no-op.
-- Their first attempt is left to the writer, which publishes them right after the commit:
-- the reconcile only takes them once `next_attempt_at` passed (the writer died, or the
-- broker refused).
INSERT INTO outbox (event_id, event_type, instance_id, event, next_attempt_at)
SELECT queued.event_id, queued.event_type, queued.instance_id, queued.event, %(next_attempt_at)s
  FROM jsonb_to_recordset(%(queued)s)
       AS queued (event_id text, event_type text, instance_id text, event jsonb)
ON CONFLICT (event_id) DO NOTHING
RETURNING id, event_id

-- name: claim_due
-- Lock due, unsent rows; SKIP LOCKED lets several publishers work without sending a row twice.
SELECT id, event_id, event_type, instance_id, event, attempts
  FROM outbox
 WHERE sent_at IS NULL
   AND next_attempt_at <= %(now)s
 ORDER BY id
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED

-- name: claim_ids
-- Lock specific unsent rows just written by this process (publish right after commit).
SELECT id, event_id, event_type, instance_id, event, attempts
  FROM outbox
 WHERE id = ANY(%(ids)s)
   AND sent_at IS NULL
 ORDER BY id
   FOR UPDATE SKIP LOCKED

-- name: mark_sent
UPDATE outbox
   SET sent_at = %(now)s,
       attempts = attempts + 1,
       last_error = NULL
 WHERE id = %(id)s

-- name: mark_all_sent
-- One statement for every event a publisher delivered; rows another publisher marked stay.
UPDATE outbox
   SET sent_at = %(now)s,
       attempts = attempts + 1,
       last_error = NULL
 WHERE id = ANY(%(ids)s)
   AND sent_at IS NULL

-- name: mark_failed
UPDATE outbox
   SET attempts = attempts + 1,
       next_attempt_at = %(next_attempt_at)s,
       last_error = %(error)s
 WHERE id = %(id)s

-- name: unsent_count
SELECT count(*)
  FROM outbox
 WHERE sent_at IS NULL

-- name: unsent_backlog
-- Read at each /metrics scrape; the partial index on unsent rows keeps it small.
SELECT count(*) AS count, min(created_at) AS oldest_at
  FROM outbox
 WHERE sent_at IS NULL

-- name: claim_unsent_of_type
-- A local run has no broker: it takes its own step events from the outbox.
SELECT id, event_id, event_type, instance_id, event, attempts
  FROM outbox
 WHERE sent_at IS NULL
   AND event_type = %(event_type)s
 ORDER BY id
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED
