-- name: upsert_job
-- Re-posting a job id replaces it (Kogito Job Service v2 semantics): a new schedule, counters
-- back to zero.
INSERT INTO jobs (id, status, expiration_time, recipient, payload, instance_id, workflow_id,
                  root_instance_id, root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit,
                  retries, execution_counter, priority, correlation_id, schedule, retry,
                  execution_timeout_ms, occurrence_at, last_error, created_at, updated_at)
VALUES (%(id)s, 'SCHEDULED', %(expiration_time)s, %(recipient)s, %(payload)s, %(instance_id)s, %(workflow_id)s,
        %(root_instance_id)s, %(root_workflow_id)s, %(node_instance_id)s, %(repeat_interval_ms)s,
        %(repeat_limit)s, 0, 0, %(priority)s, %(correlation_id)s, %(schedule)s, %(retry)s,
        %(execution_timeout_ms)s, NULL, NULL, %(now)s, %(now)s)
ON CONFLICT (id) DO UPDATE
   SET status = 'SCHEDULED',
       expiration_time = EXCLUDED.expiration_time,
       recipient = EXCLUDED.recipient,
       payload = EXCLUDED.payload,
       instance_id = EXCLUDED.instance_id,
       workflow_id = EXCLUDED.workflow_id,
       root_instance_id = EXCLUDED.root_instance_id,
       root_workflow_id = EXCLUDED.root_workflow_id,
       node_instance_id = EXCLUDED.node_instance_id,
       repeat_interval_ms = EXCLUDED.repeat_interval_ms,
       repeat_limit = EXCLUDED.repeat_limit,
       retries = 0,
       execution_counter = 0,
       priority = EXCLUDED.priority,
       correlation_id = EXCLUDED.correlation_id,
       schedule = EXCLUDED.schedule,
       retry = EXCLUDED.retry,
       execution_timeout_ms = EXCLUDED.execution_timeout_ms,
       occurrence_at = NULL,
       last_error = NULL,
       updated_at = EXCLUDED.updated_at
RETURNING id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
          root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
          priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
          execution_timeout_ms, occurrence_at

-- name: claim_due_jobs
-- Lock due jobs; SKIP LOCKED lets several job-trigger replicas fire each job once. A RUNNING job
-- is due again only when the lease of the firer that took it ran out (it died mid-call).
SELECT id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
       root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
       priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
       execution_timeout_ms, occurrence_at
  FROM jobs
 WHERE status IN ('SCHEDULED', 'RETRY', 'RUNNING')
   AND expiration_time <= %(now)s
 ORDER BY expiration_time
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED

-- name: next_due
-- When the next pending job (or the lease of a running one) expires.
SELECT min(expiration_time)
  FROM jobs
 WHERE status IN ('SCHEDULED', 'RETRY', 'RUNNING')

-- name: overdue_backlog
-- Read at each /metrics scrape: timers past due that nobody fired yet (jobs_due_idx).
SELECT count(*) AS count, min(expiration_time) AS oldest_at
  FROM jobs
 WHERE status IN ('SCHEDULED', 'RETRY')
   AND expiration_time <= %(now)s

-- name: next_due_for_instance
SELECT min(expiration_time)
  FROM jobs
 WHERE status IN ('SCHEDULED', 'RETRY')
   AND instance_id = %(instance_id)s

-- name: set_job_status
UPDATE jobs
   SET status = %(status)s,
       expiration_time = %(expiration_time)s,
       retries = %(retries)s,
       execution_counter = %(execution_counter)s,
       occurrence_at = %(occurrence_at)s,
       last_error = %(last_error)s,
       updated_at = %(now)s
 WHERE id = %(id)s
RETURNING id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
          root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
          priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
          execution_timeout_ms, occurrence_at

-- name: get_job
SELECT id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
       root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
       priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
       execution_timeout_ms, occurrence_at
  FROM jobs
 WHERE id = %(id)s

-- name: lock_job
-- Row lock while a firer records the outcome of a call made outside any transaction, or while
-- the API cancels or replaces a job: both must see the latest status.
SELECT id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
       root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
       priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
       execution_timeout_ms, occurrence_at
  FROM jobs
 WHERE id = %(id)s
   FOR UPDATE

-- name: cancel_job
UPDATE jobs
   SET status = 'CANCELED',
       updated_at = %(now)s
 WHERE id = %(id)s
   AND status IN ('SCHEDULED', 'RETRY', 'RUNNING')
RETURNING id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
          root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
          priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
          execution_timeout_ms, occurrence_at

-- name: cancel_instance_jobs
UPDATE jobs
   SET status = 'CANCELED',
       updated_at = %(now)s
 WHERE instance_id = %(instance_id)s
   AND status IN ('SCHEDULED', 'RETRY')
RETURNING id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
          root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
          priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
          execution_timeout_ms, occurrence_at

-- name: stalled_instances
-- The reconcile's sweep: ACTIVE instances that could run (not waiting for an event or timer)
-- but made no progress since `before`; their step event was probably lost. Paged by
-- (updated_at, id) after the previous page. Not locked: the step event it leads to is checked
-- against the thread's seq by step-executor.
SELECT id, execution, updated_at
  FROM instances
 WHERE status = 'ACTIVE'
   AND NOT waiting
   AND updated_at < %(before)s
   AND (updated_at, id) > (%(after_updated_at)s, %(after_id)s)
 ORDER BY updated_at, id
 LIMIT %(limit)s

-- name: take_watch
-- One job-trigger invocation at a time stays awake; the one whose window ends last takes over,
-- and the previous watcher notices and leaves.
INSERT INTO job_watch_leases (name, holder, held_until)
VALUES (%(name)s, %(holder)s, %(held_until)s)
ON CONFLICT (name) DO UPDATE
   SET holder = EXCLUDED.holder,
       held_until = EXCLUDED.held_until
 WHERE job_watch_leases.held_until < EXCLUDED.held_until
RETURNING holder

-- name: holds_watch
SELECT holder
  FROM job_watch_leases
 WHERE name = %(name)s
   AND holder = %(holder)s
   AND held_until > %(now)s

-- name: release_watch
UPDATE job_watch_leases
   SET held_until = %(now)s
 WHERE name = %(name)s
   AND holder = %(holder)s

-- name: page_jobs
-- Every job in id order, a page at a time (`knflow index rebuild`).
SELECT id, status, expiration_time, recipient, payload, instance_id, workflow_id, root_instance_id,
       root_workflow_id, node_instance_id, repeat_interval_ms, repeat_limit, retries, execution_counter,
       priority, last_error, created_at, updated_at, correlation_id, schedule, retry,
       execution_timeout_ms, occurrence_at
  FROM jobs
 WHERE id > %(after)s
 ORDER BY id
 LIMIT %(limit)s

-- name: work_in_flight
-- When a sweep should look again: the oldest instance that could run (not waiting for an event
-- or timer) and is not stalled yet (the sweep saw the stalled ones), the next unsent event and
-- the next timer. Each reads the first entry of an index.
SELECT (SELECT min(updated_at)
          FROM instances
         WHERE status = 'ACTIVE'
           AND NOT waiting
           AND updated_at >= %(stalled_before)s) AS oldest_running,
       (SELECT min(next_attempt_at)
          FROM outbox
         WHERE sent_at IS NULL) AS next_unsent,
       (SELECT min(expiration_time)
          FROM jobs
         WHERE status IN ('SCHEDULED', 'RETRY')) AS next_timer
