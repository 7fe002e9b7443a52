-- name: lock_entity
-- Transaction-scoped advisory lock on one projected entity (instance, definition or
-- job): merges read-modify-write the row, so two deliveries about the same entity must
-- not interleave; it also covers rows that do not exist yet, which FOR UPDATE cannot.
SELECT pg_advisory_xact_lock(%(class)s, hashtext(%(key)s))

-- name: get_instance
SELECT id, process_id, version, process_name, parent_process_instance_id,
       root_process_instance_id, root_process_id, roles, addons, state, state_final,
       state_date, endpoint, service_url, variables, variable_dates, start, "end",
       last_update, business_key, identity, created_by, updated_by, sla_due_date,
       cloud_event_id, cloud_event_source, fields_date, error_node_definition_id,
       error_node_instance_id, error_message, error_date, retrigger_date
  FROM index_process_instances
 WHERE id = %(id)s

-- name: save_instance
INSERT INTO index_process_instances (
       id, process_id, version, process_name, parent_process_instance_id,
       root_process_instance_id, root_process_id, roles, addons, state, state_final,
       state_date, endpoint, service_url, variables, variable_dates, start, "end",
       last_update, business_key, identity, created_by, updated_by, sla_due_date,
       cloud_event_id, cloud_event_source, fields_date, error_node_definition_id,
       error_node_instance_id, error_message, error_date, retrigger_date)
VALUES (
       %(id)s, %(process_id)s, %(version)s, %(process_name)s,
       %(parent_process_instance_id)s, %(root_process_instance_id)s,
       %(root_process_id)s, %(roles)s, %(addons)s, %(state)s, %(state_final)s,
       %(state_date)s, %(endpoint)s, %(service_url)s, %(variables)s,
       %(variable_dates)s, %(start)s, %(end)s, %(last_update)s, %(business_key)s,
       %(identity)s, %(created_by)s, %(updated_by)s, %(sla_due_date)s,
       %(cloud_event_id)s, %(cloud_event_source)s, %(fields_date)s,
       %(error_node_definition_id)s, %(error_node_instance_id)s, %(error_message)s,
       %(error_date)s, %(retrigger_date)s)
ON CONFLICT (id) DO UPDATE
   SET process_id = EXCLUDED.process_id,
       version = EXCLUDED.version,
       process_name = EXCLUDED.process_name,
       parent_process_instance_id = EXCLUDED.parent_process_instance_id,
       root_process_instance_id = EXCLUDED.root_process_instance_id,
       root_process_id = EXCLUDED.root_process_id,
       roles = EXCLUDED.roles,
       addons = EXCLUDED.addons,
       state = EXCLUDED.state,
       state_final = EXCLUDED.state_final,
       state_date = EXCLUDED.state_date,
       endpoint = EXCLUDED.endpoint,
       service_url = EXCLUDED.service_url,
       variables = EXCLUDED.variables,
       variable_dates = EXCLUDED.variable_dates,
       start = EXCLUDED.start,
       "end" = EXCLUDED."end",
       last_update = EXCLUDED.last_update,
       business_key = EXCLUDED.business_key,
       identity = EXCLUDED.identity,
       created_by = EXCLUDED.created_by,
       updated_by = EXCLUDED.updated_by,
       sla_due_date = EXCLUDED.sla_due_date,
       cloud_event_id = EXCLUDED.cloud_event_id,
       cloud_event_source = EXCLUDED.cloud_event_source,
       fields_date = EXCLUDED.fields_date,
       error_node_definition_id = EXCLUDED.error_node_definition_id,
       error_node_instance_id = EXCLUDED.error_node_instance_id,
       error_message = EXCLUDED.error_message,
       error_date = EXCLUDED.error_date,
       retrigger_date = EXCLUDED.retrigger_date

-- name: get_node
SELECT process_instance_id, id, name, type, definition_id, node_id, enter, exit,
       sla_due_date, retrigger, error_message, error_date, cancel_type, input_args,
       output_args
  FROM index_node_instances
 WHERE process_instance_id = %(process_instance_id)s
   AND id = %(id)s

-- name: save_node
INSERT INTO index_node_instances (
       process_instance_id, id, name, type, definition_id, node_id, enter, exit,
       sla_due_date, retrigger, error_message, error_date, cancel_type, input_args,
       output_args)
VALUES (
       %(process_instance_id)s, %(id)s, %(name)s, %(type)s, %(definition_id)s,
       %(node_id)s, %(enter)s, %(exit)s, %(sla_due_date)s, %(retrigger)s,
       %(error_message)s, %(error_date)s, %(cancel_type)s, %(input_args)s,
       %(output_args)s)
ON CONFLICT (process_instance_id, id) DO UPDATE
   SET name = EXCLUDED.name,
       type = EXCLUDED.type,
       definition_id = EXCLUDED.definition_id,
       node_id = EXCLUDED.node_id,
       enter = EXCLUDED.enter,
       exit = EXCLUDED.exit,
       sla_due_date = EXCLUDED.sla_due_date,
       retrigger = EXCLUDED.retrigger,
       error_message = EXCLUDED.error_message,
       error_date = EXCLUDED.error_date,
       cancel_type = EXCLUDED.cancel_type,
       input_args = EXCLUDED.input_args,
       output_args = EXCLUDED.output_args

-- name: get_definition
SELECT id, version, name, description, type, endpoint, service_url, source,
       annotations, roles, addons, metadata, nodes, updated_at
  FROM index_process_definitions
 WHERE id = %(id)s
   AND version = %(version)s

-- name: save_definition
INSERT INTO index_process_definitions (
       id, version, name, description, type, endpoint, service_url, source,
       annotations, roles, addons, metadata, nodes, updated_at)
VALUES (
       %(id)s, %(version)s, %(name)s, %(description)s, %(type)s, %(endpoint)s,
       %(service_url)s, %(source)s, %(annotations)s, %(roles)s, %(addons)s,
       %(metadata)s, %(nodes)s, %(updated_at)s)
ON CONFLICT (id, version) DO UPDATE
   SET name = EXCLUDED.name,
       description = EXCLUDED.description,
       type = EXCLUDED.type,
       endpoint = EXCLUDED.endpoint,
       service_url = EXCLUDED.service_url,
       source = EXCLUDED.source,
       annotations = EXCLUDED.annotations,
       roles = EXCLUDED.roles,
       addons = EXCLUDED.addons,
       metadata = EXCLUDED.metadata,
       nodes = EXCLUDED.nodes,
       updated_at = EXCLUDED.updated_at

-- name: get_job
SELECT id, process_id, process_instance_id, node_instance_id, root_process_instance_id,
       root_process_id, status, expiration_time, priority, callback_endpoint,
       repeat_interval, repeat_limit, scheduled_id, retries, last_update,
       execution_counter, endpoint, exception_message, exception_details
  FROM index_jobs
 WHERE id = %(id)s

-- name: save_job
INSERT INTO index_jobs (
       id, process_id, process_instance_id, node_instance_id, root_process_instance_id,
       root_process_id, status, expiration_time, priority, callback_endpoint,
       repeat_interval, repeat_limit, scheduled_id, retries, last_update,
       execution_counter, endpoint, exception_message, exception_details)
VALUES (
       %(id)s, %(process_id)s, %(process_instance_id)s, %(node_instance_id)s,
       %(root_process_instance_id)s, %(root_process_id)s, %(status)s,
       %(expiration_time)s, %(priority)s, %(callback_endpoint)s, %(repeat_interval)s,
       %(repeat_limit)s, %(scheduled_id)s, %(retries)s, %(last_update)s,
       %(execution_counter)s, %(endpoint)s, %(exception_message)s,
       %(exception_details)s)
ON CONFLICT (id) DO UPDATE
   SET process_id = EXCLUDED.process_id,
       process_instance_id = EXCLUDED.process_instance_id,
       node_instance_id = EXCLUDED.node_instance_id,
       root_process_instance_id = EXCLUDED.root_process_instance_id,
       root_process_id = EXCLUDED.root_process_id,
       status = EXCLUDED.status,
       expiration_time = EXCLUDED.expiration_time,
       priority = EXCLUDED.priority,
       callback_endpoint = EXCLUDED.callback_endpoint,
       repeat_interval = EXCLUDED.repeat_interval,
       repeat_limit = EXCLUDED.repeat_limit,
       scheduled_id = EXCLUDED.scheduled_id,
       retries = EXCLUDED.retries,
       last_update = EXCLUDED.last_update,
       execution_counter = EXCLUDED.execution_counter,
       endpoint = EXCLUDED.endpoint,
       exception_message = EXCLUDED.exception_message,
       exception_details = EXCLUDED.exception_details

-- name: instance_nodes
-- Every node row of one instance, error-only ones included: what one delivery merges into.
SELECT process_instance_id, id, name, type, definition_id, node_id, enter, exit,
       sla_due_date, retrigger, error_message, error_date, cancel_type, input_args,
       output_args
  FROM index_node_instances
 WHERE process_instance_id = %(id)s

-- name: nodes_of
-- Nodes known only from an error event (no enter yet) are not shown.
SELECT process_instance_id, id, name, type, definition_id, node_id, enter, exit,
       sla_due_date, retrigger, error_message, error_date, cancel_type, input_args,
       output_args
  FROM index_node_instances
 WHERE process_instance_id = ANY(%(ids)s)
   AND enter IS NOT NULL
 ORDER BY process_instance_id, enter, id

-- name: instances_by_ids
SELECT id, process_id, version, process_name, parent_process_instance_id,
       root_process_instance_id, root_process_id, roles, addons, state, state_final,
       state_date, endpoint, service_url, variables, variable_dates, start, "end",
       last_update, business_key, identity, created_by, updated_by, sla_due_date,
       cloud_event_id, cloud_event_source, fields_date, error_node_definition_id,
       error_node_instance_id, error_message, error_date, retrigger_date
  FROM index_process_instances
 WHERE id = ANY(%(ids)s)

-- name: definitions_by_ids
SELECT id, version, name, description, type, endpoint, service_url, source,
       annotations, roles, addons, metadata, nodes, updated_at
  FROM index_process_definitions
 WHERE id = ANY(%(ids)s)
 ORDER BY id, version

-- name: lock_projection
-- Rebuild: EXCLUSIVE blocks concurrent merges (they wait and apply after the rebuild
-- commits, idempotently) while GraphQL readers keep reading the previous rows.
LOCK TABLE index_process_definitions, index_process_instances, index_node_instances,
           index_jobs
    IN EXCLUSIVE MODE

-- name: clear_nodes
DELETE FROM index_node_instances

-- name: clear_instances
DELETE FROM index_process_instances

-- name: clear_definitions
DELETE FROM index_process_definitions

-- name: clear_jobs
DELETE FROM index_jobs

-- name: runtime_definitions
-- The runtime's registered definitions (migration 0001, owned by the runtime).
SELECT workflow_id, version, name, description,
       source ->> 'text' AS source_text,
       source -> 'document' AS document,
       status, registered_at
  FROM definitions
 ORDER BY workflow_id, version

-- name: outbox_events
-- Everything the runtime emitted, sent or not, in emission order.
SELECT id, event
  FROM outbox
 WHERE id > %(after)s
   AND event_type = ANY(%(types)s)
 ORDER BY id
 LIMIT %(limit)s
