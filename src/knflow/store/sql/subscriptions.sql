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
-- Events that arrived before any wait claimed them, within the retention window; not locked:
-- the one a wait takes is locked then (lock_if_unconsumed), so that the others stay free.
SELECT id, event
  FROM received_events
 WHERE consumed_at IS NULL
   AND event_type = ANY(%(types)s)
   AND received_at >= %(since)s
 ORDER BY id

-- name: lock_if_unconsumed
-- Lock one kept event that no wait took yet. A transaction holding it is waited for, and the
-- row read again once it ended: nothing comes back if that transaction took the event.
SELECT id
  FROM received_events
 WHERE id = %(id)s
   AND consumed_at IS NULL
   FOR UPDATE

-- name: hold_new_waits
-- Taken (shared) by a transaction that begins waiting for these event types, until it ends:
-- `await_new_waits` can then wait for every wait begun before it to be committed and visible.
SELECT pg_advisory_xact_lock_shared(%(class)s, hashtext(event_type))
  FROM unnest(%(event_types)s::text[]) AS event_type
 ORDER BY event_type

-- name: await_new_waits
-- Waits until no transaction that began waiting for this type is still open (see hold_new_waits).
SELECT pg_advisory_xact_lock(%(class)s, hashtext(%(event_type)s))
