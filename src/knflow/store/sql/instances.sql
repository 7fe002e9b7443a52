-- name: insert_instance
-- No ON CONFLICT: callers create an id once (uuid4, a recorded start key, a subflow they looked
-- for first), so a second insert is a bug that must fail the unit of work, not pass silently.
INSERT INTO instances (id, workflow_id, workflow_version, status, revision, data, variables, execution,
                       waiting, headers, business_key, parent_instance_id, parent_thread_id, parent_key,
                       root_instance_id, root_workflow_id, error_state, error_node, error_message,
                       started_at, updated_at, ended_at, correlation, terminate_with_parent, input,
                       initiator, definition_revision)
VALUES (%(id)s, %(workflow_id)s, %(workflow_version)s, %(status)s, %(revision)s, %(data)s, %(variables)s,
        %(execution)s, %(waiting)s, %(headers)s, %(business_key)s, %(parent_instance_id)s,
        %(parent_thread_id)s, %(parent_key)s, %(root_instance_id)s, %(root_workflow_id)s, %(error_state)s,
        %(error_node)s, %(error_message)s, %(started_at)s, %(updated_at)s, %(ended_at)s, %(correlation)s,
        %(terminate_with_parent)s, %(input)s, %(initiator)s, %(definition_revision)s)

-- name: lock_instance
-- Row lock for the duration of one step: steps of one instance apply one at a time,
-- while the slow parts (service calls) run outside any transaction.
SELECT id, workflow_id, workflow_version, status, revision, data, variables, execution, waiting, headers,
       business_key, parent_instance_id, parent_thread_id, parent_key, root_instance_id, root_workflow_id,
       error_state, error_node, error_message, started_at, updated_at, ended_at, correlation,
       terminate_with_parent, input, initiator, definition_revision
  FROM instances
 WHERE id = %(id)s
   FOR UPDATE

-- name: lock_instance_at
-- The row lock of `lock_instance`, for a step that runs on the row as this process committed
-- it: the server checks that the row is still at that revision, and a mismatch raises and
-- aborts the transaction (0019), so the caller sends it without waiting for its answer.
WITH locked AS (
    SELECT revision
      FROM instances
     WHERE id = %(id)s
       AND revision = %(revision)s
       FOR UPDATE
)
SELECT knflow_expect_revision((SELECT revision FROM locked), %(id)s, %(revision)s)

-- name: get_instance
SELECT id, workflow_id, workflow_version, status, revision, data, variables, execution, waiting, headers,
       business_key, parent_instance_id, parent_thread_id, parent_key, root_instance_id, root_workflow_id,
       error_state, error_node, error_message, started_at, updated_at, ended_at, correlation,
       terminate_with_parent, input, initiator, definition_revision
  FROM instances
 WHERE id = %(id)s

-- name: update_instance
-- Optimistic check on revision: the caller holds the row lock, so this only guards mistakes.
-- The server makes the check (0019): a mismatch raises and aborts the transaction, so a caller
-- in a pipeline need not wait for this answer before sending COMMIT.
-- A NULL data parameter keeps the stored data (unchanged data is not rewritten).
WITH updated AS (
    UPDATE instances
       SET status = %(status)s,
           revision = revision + 1,
           data = COALESCE(%(data)s, data),
           variables = %(variables)s,
           execution = %(execution)s,
           waiting = %(waiting)s,
           error_state = %(error_state)s,
           error_node = %(error_node)s,
           error_message = %(error_message)s,
           updated_at = %(updated_at)s,
           ended_at = %(ended_at)s
     WHERE id = %(id)s
       AND revision = %(revision)s
    RETURNING revision
)
SELECT knflow_expect_revision((SELECT revision FROM updated), %(id)s, %(revision)s)

-- name: list_active_instances
SELECT id, data
  FROM instances
 WHERE workflow_id = %(workflow_id)s
   AND status = 'ACTIVE'
 ORDER BY started_at

-- name: find_child
SELECT id
  FROM instances
 WHERE parent_instance_id = %(parent_instance_id)s
   AND parent_key = %(parent_key)s

-- name: open_children
-- Children still running when their parent ends (`onParentComplete: terminate`).
SELECT id
  FROM instances
 WHERE parent_instance_id = %(parent_instance_id)s
   AND status IN ('ACTIVE', 'SUSPENDED')

-- name: status_of
SELECT status, waiting, data, error_state, error_message
  FROM instances
 WHERE id = %(id)s

-- name: page_instances
-- Every instance in id order, a page at a time (`knflow index rebuild`).
SELECT id, workflow_id, workflow_version, status, revision, data, variables, execution, waiting, headers,
       business_key, parent_instance_id, parent_thread_id, parent_key, root_instance_id, root_workflow_id,
       error_state, error_node, error_message, started_at, updated_at, ended_at, correlation,
       terminate_with_parent, input, initiator, definition_revision
  FROM instances
 WHERE id > %(after)s
 ORDER BY id
 LIMIT %(limit)s

-- name: list_failed
-- The ERROR instances of a workflow that failed (last changed) in [failed_after, failed_before),
-- oldest first, with how many match in all; the (workflow_id, status) index finds them.
SELECT id, count(*) OVER () AS matching
  FROM instances
 WHERE workflow_id = %(workflow_id)s
   AND status = 'ERROR'
   AND parent_instance_id IS NULL
   AND updated_at >= %(failed_after)s
   AND updated_at < %(failed_before)s
 ORDER BY updated_at, id
 LIMIT %(limit)s

-- name: try_lock_bulk_retrigger
-- Session-scoped advisory lock: one bulk retrigger of a workflow at a time in every process,
-- so its rate holds per workflow and no instance is taken by two; it spans the bulk's many
-- short transactions and is released by unlock_bulk_retrigger or when the session ends.
SELECT pg_try_advisory_lock(%(class)s, hashtext(%(workflow_id)s))

-- name: unlock_bulk_retrigger
SELECT pg_advisory_unlock(%(class)s, hashtext(%(workflow_id)s))

-- name: repin_instance
-- Move an instance to another revision (an operator's migration); optimistic on revision like
-- every update, under the caller's row lock.
UPDATE instances
   SET workflow_version = %(workflow_version)s,
       definition_revision = %(definition_revision)s,
       revision = revision + 1,
       updated_at = %(updated_at)s
 WHERE id = %(id)s
   AND revision = %(revision)s
RETURNING revision

-- name: renew_call_claim
-- The heartbeat of an executor performing a call: move its claim forward while the thread still
-- waits for that call under the claim this executor holds. The row lock this takes waits for a
-- unit of work holding it, then applies to the row as that unit left it.
-- It bumps the revision like every change of the row, so that a step running on the row as
-- its process last committed it (`lock_instance_at`) finds it changed.
UPDATE instances
   SET execution = jsonb_set(
           execution,
           ARRAY['threads', %(thread_id)s, 'wait', 'claimed_until'],
           to_jsonb(%(claimed_until)s::text)
       ),
       revision = revision + 1
 WHERE id = %(id)s
   AND status = 'ACTIVE'
   AND execution #>> ARRAY['threads', %(thread_id)s, 'wait', 'key'] = %(key)s
   AND execution #>> ARRAY['threads', %(thread_id)s, 'wait', 'claimed_until'] = %(held_until)s
RETURNING id
