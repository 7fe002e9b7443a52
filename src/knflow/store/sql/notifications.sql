-- name: insert_delivery
-- Create the delivery row of one event on one channel; a redelivered event keeps its row.
-- retry_at is when the re-drive takes over a row whose first claim never happened.
INSERT INTO notification_deliveries
       (event_id, channel, event_type, instance_id, workflow_id, body, status,
        retry_at, created_at, updated_at)
VALUES (%(event_id)s, %(channel)s, %(event_type)s, %(instance_id)s, %(workflow_id)s,
        %(body)s, 'PENDING', %(retry_at)s, %(now)s, %(now)s)
    ON CONFLICT (event_id, channel) DO NOTHING

-- name: start_attempt
-- Claim the row for one send: only a row never sent, a failed one whose back-off has passed
-- (retry_at NULL: written by the previous release, due), or one whose previous claimant's
-- lease ran out (it crashed mid-send). The UPDATE's row lock makes a concurrent duplicate
-- wait and then find the row claimed, so two deliveries never both send.
UPDATE notification_deliveries
   SET status = 'SENDING',
       attempts = attempts + 1,
       lease_until = %(lease_until)s,
       retry_at = NULL,
       updated_at = %(now)s
 WHERE event_id = %(event_id)s
   AND channel = %(channel)s
   AND (status = 'PENDING'
        OR (status = 'FAILED' AND coalesce(retry_at, updated_at) <= %(now)s)
        OR (status = 'SENDING' AND lease_until <= %(now)s))
RETURNING event_id, channel, event_type, instance_id, workflow_id, body, status,
          attempts, last_error, lease_until, created_at, updated_at, sent_at, retry_at,
          last_outcome, recipient_count

-- name: finish_attempt
-- Record how a claimed send ended; matches only while this attempt still holds the claim.
UPDATE notification_deliveries
   SET status = %(status)s,
       last_outcome = %(outcome)s,
       last_error = %(last_error)s,
       retry_at = %(retry_at)s,
       recipient_count = %(recipient_count)s,
       lease_until = NULL,
       updated_at = %(now)s,
       sent_at = CASE WHEN %(status)s = 'SENT' THEN %(now)s ELSE sent_at END
 WHERE event_id = %(event_id)s
   AND channel = %(channel)s
   AND status = 'SENDING'
   AND attempts = %(attempt)s

-- name: record_refusal
-- Keep a refused event (bad data) in the log under the 'intake' channel.
INSERT INTO notification_deliveries
       (event_id, channel, event_type, instance_id, workflow_id, body, status,
        last_error, created_at, updated_at)
VALUES (%(event_id)s, 'intake', %(event_type)s, %(instance_id)s, %(workflow_id)s,
        %(body)s, 'REFUSED', %(reason)s, %(now)s, %(now)s)
    ON CONFLICT (event_id, channel) DO NOTHING

-- name: get_delivery
SELECT event_id, channel, event_type, instance_id, workflow_id, body, status,
       attempts, last_error, lease_until, created_at, updated_at, sent_at, retry_at,
       last_outcome, recipient_count
  FROM notification_deliveries
 WHERE event_id = %(event_id)s
   AND channel = %(channel)s

-- name: list_deliveries
-- Every row of one event, one per channel.
SELECT event_id, channel, event_type, instance_id, workflow_id, body, status,
       attempts, last_error, lease_until, created_at, updated_at, sent_at, retry_at,
       last_outcome, recipient_count
  FROM notification_deliveries
 WHERE event_id = %(event_id)s
 ORDER BY channel

-- name: find_ended_instance
-- What a lifecycle notice needs from the runtime's tables (migration 0001): the initiator,
-- the error, and the metadata and annotations of the revision it ran (else its version's).
SELECT i.id, i.workflow_id, COALESCE(r.name, d.name), i.variables->'initiatorEntity', i.error_message,
       COALESCE(r.source, d.source)->'document'->'metadata',
       COALESCE(r.source, d.source)->'document'->'annotations'
  FROM instances AS i
  LEFT JOIN definitions AS d
    ON d.workflow_id = i.workflow_id
   AND d.version = i.workflow_version
  LEFT JOIN definition_revisions AS r
    ON r.workflow_id = i.workflow_id
   AND r.revision = i.definition_revision
 WHERE i.id = %(instance_id)s

-- name: expire_deliveries
-- Give up on unsent rows that reached the give-up age (a claimed one is judged when its
-- attempt ends).
UPDATE notification_deliveries
   SET status = 'DEAD',
       retry_at = NULL,
       updated_at = %(now)s
 WHERE status IN ('PENDING', 'FAILED')
   AND created_at <= %(created_before)s
RETURNING event_id, channel, event_type, instance_id, workflow_id, body, status,
          attempts, last_error, lease_until, created_at, updated_at, sent_at, retry_at,
          last_outcome, recipient_count

-- name: list_stalled
-- Deliveries no event will finish: unclaimed and failed rows that are due (retry_at NULL:
-- written by the previous release) and claims whose holder died. Longest waiting first.
SELECT event_id, channel, event_type, instance_id, workflow_id, body, status,
       attempts, last_error, lease_until, created_at, updated_at, sent_at, retry_at,
       last_outcome, recipient_count
  FROM notification_deliveries
 WHERE (status IN ('PENDING', 'FAILED') AND coalesce(retry_at, updated_at) <= %(now)s)
    OR (status = 'SENDING' AND lease_until <= %(now)s)
 ORDER BY coalesce(retry_at, lease_until, updated_at)
 LIMIT %(limit)s
