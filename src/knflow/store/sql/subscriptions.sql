-- name: delete_instance_subscriptions
DELETE FROM subscriptions
 WHERE instance_id = %(instance_id)s

-- name: insert_subscription
INSERT INTO subscriptions (instance_id, thread_id, wait_key, event_ref, event_type, event_source, correlation,
                           business_key, created_at)
VALUES (%(instance_id)s, %(thread_id)s, %(wait_key)s, %(event_ref)s, %(event_type)s, %(event_source)s,
        %(correlation)s, %(business_key)s, %(now)s)
ON CONFLICT (instance_id, wait_key, event_ref) DO NOTHING

-- name: subscriptions_for_type
-- Candidates for one event; correlation is compared in Python (all listed attributes must match).
SELECT instance_id, thread_id, wait_key, event_ref, event_type, event_source, correlation, business_key
  FROM subscriptions
 WHERE event_type = %(event_type)s
 ORDER BY created_at, instance_id

-- name: record_received
-- Remember an event once (by source and id); a redelivery returns no row.
INSERT INTO received_events (event_id, event_source, event_type, event, received_at)
VALUES (%(event_id)s, %(event_source)s, %(event_type)s, %(event)s, %(now)s)
ON CONFLICT (event_source, event_id) DO NOTHING
RETURNING id

-- name: mark_consumed
UPDATE received_events
   SET consumed_at = %(now)s,
       consumed_by = %(consumed_by)s
 WHERE id = %(id)s

-- name: unconsumed_of_types
-- Events that arrived before any wait claimed them, within the retention window.
-- Locked so that two instances starting to wait at once cannot both take the same event.
SELECT id, event
  FROM received_events
 WHERE consumed_at IS NULL
   AND event_type = ANY(%(types)s)
   AND received_at >= %(since)s
 ORDER BY id
   FOR UPDATE SKIP LOCKED

-- name: lock_if_unconsumed
-- Lock one kept event that no wait took yet; another transaction holding it (a wait taking
-- it from the backlog) makes this return nothing.
SELECT id
  FROM received_events
 WHERE id = %(id)s
   AND consumed_at IS NULL
   FOR UPDATE SKIP LOCKED
