-- name: upsert_definition
-- Store a definition version and make it the one served; a no-op (returns no row) when it is
-- already served: same checksum, available, and no available version registered after it.
INSERT INTO definitions (workflow_id, version, name, description, source, checksum, status, registered_at)
VALUES (%(workflow_id)s, %(version)s, %(name)s, %(description)s, %(source)s, %(checksum)s, 'AVAILABLE', %(now)s)
ON CONFLICT (workflow_id, version) DO UPDATE
   SET name = EXCLUDED.name,
       description = EXCLUDED.description,
       source = EXCLUDED.source,
       checksum = EXCLUDED.checksum,
       status = 'AVAILABLE',
       registered_at = EXCLUDED.registered_at
 WHERE definitions.checksum IS DISTINCT FROM EXCLUDED.checksum
    OR definitions.status <> 'AVAILABLE'
    OR EXISTS (SELECT 1
                 FROM definitions AS later
                WHERE later.workflow_id = EXCLUDED.workflow_id
                  AND later.status = 'AVAILABLE'
                  AND later.registered_at > definitions.registered_at)
RETURNING workflow_id

-- name: get_definition
SELECT workflow_id, version, name, description, source, checksum, status, registered_at
  FROM definitions
 WHERE workflow_id = %(workflow_id)s
   AND version = %(version)s

-- name: get_latest_definition
-- The newest registration of a workflow that is still available.
SELECT workflow_id, version, name, description, source, checksum, status, registered_at
  FROM definitions
 WHERE workflow_id = %(workflow_id)s
   AND status = 'AVAILABLE'
 ORDER BY registered_at DESC
 LIMIT 1

-- name: list_available_definitions
SELECT DISTINCT ON (workflow_id) workflow_id, version, name, description, source, checksum, status, registered_at
  FROM definitions
 WHERE status = 'AVAILABLE'
 ORDER BY workflow_id, registered_at DESC

-- name: mark_unavailable_except
-- Definitions whose workflow is no longer deployed; returns those that changed.
UPDATE definitions
   SET status = 'UNAVAILABLE'
 WHERE status = 'AVAILABLE'
   AND NOT (workflow_id = ANY(%(keep)s))
RETURNING workflow_id, version, name, description, source, checksum, status, registered_at

-- name: mark_unavailable
-- Definitions withdrawn by name (their ConfigMap was deleted); returns those that changed.
UPDATE definitions
   SET status = 'UNAVAILABLE'
 WHERE status = 'AVAILABLE'
   AND workflow_id = ANY(%(workflow_ids)s)
RETURNING workflow_id, version, name, description, source, checksum, status, registered_at
