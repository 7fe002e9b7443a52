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
-- A version's current content, with its revision (none when a release before revisions
-- registered it).
SELECT d.workflow_id, d.version, d.name, d.description, d.source, d.checksum, d.status, d.registered_at,
       r.revision, r.label
  FROM definitions AS d
  LEFT JOIN definition_revisions AS r
    ON r.workflow_id = d.workflow_id AND r.checksum = d.checksum
 WHERE d.workflow_id = %(workflow_id)s
   AND d.version = %(version)s

-- name: get_latest_definition
-- The newest registration of a workflow that is still available.
SELECT d.workflow_id, d.version, d.name, d.description, d.source, d.checksum, d.status, d.registered_at,
       r.revision, r.label
  FROM definitions AS d
  LEFT JOIN definition_revisions AS r
    ON r.workflow_id = d.workflow_id AND r.checksum = d.checksum
 WHERE d.workflow_id = %(workflow_id)s
   AND d.status = 'AVAILABLE'
 ORDER BY d.registered_at DESC
 LIMIT 1

-- name: expect_latest_definition
-- A start made on a process's copy of the latest definition: raises KN412 (0021) unless that
-- copy (version and checksum) is still what `get_latest_definition` finds.
SELECT knflow_expect_definition(
    (SELECT concat_ws(chr(31), d.version, d.checksum)
       FROM definitions AS d
      WHERE d.workflow_id = %(workflow_id)s
        AND d.status = 'AVAILABLE'
      ORDER BY d.registered_at DESC
      LIMIT 1),
    %(workflow_id)s,
    %(expected)s
)

-- name: list_available_definitions
SELECT DISTINCT ON (d.workflow_id) d.workflow_id, d.version, d.name, d.description, d.source, d.checksum,
       d.status, d.registered_at, r.revision, r.label
  FROM definitions AS d
  LEFT JOIN definition_revisions AS r
    ON r.workflow_id = d.workflow_id AND r.checksum = d.checksum
 WHERE d.status = 'AVAILABLE'
 ORDER BY d.workflow_id, d.registered_at DESC

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

-- name: lock_revisions
-- Registrations of one workflow take turns: a new revision's number is the highest plus one.
SELECT pg_advisory_xact_lock(hashtextextended('definition_revisions/' || %(workflow_id)s, 0))

-- name: add_revision
-- Content already registered keeps its revision (and gets its source back if it was dropped).
-- The label is the version itself unless an earlier revision used that version.
INSERT INTO definition_revisions (workflow_id, revision, version, label, checksum, name, description,
                                  source, registered_at)
SELECT %(workflow_id)s,
       COALESCE(MAX(r.revision), 0) + 1,
       %(version)s,
       CASE WHEN COALESCE(bool_or(r.version = %(version)s), false)
            THEN %(version)s || '+r' || (COALESCE(MAX(r.revision), 0) + 1)
            ELSE %(version)s
       END,
       %(checksum)s, %(name)s, %(description)s, %(source)s, %(now)s
  FROM definition_revisions AS r
 WHERE r.workflow_id = %(workflow_id)s
ON CONFLICT (workflow_id, checksum) DO UPDATE
   SET source = EXCLUDED.source,
       dropped_at = NULL
 WHERE definition_revisions.source IS NULL
RETURNING revision, label

-- name: find_revision
SELECT revision, label
  FROM definition_revisions
 WHERE workflow_id = %(workflow_id)s
   AND checksum = %(checksum)s

-- name: get_revision
-- One revision as it was registered; its status says whether new starts may get it.
SELECT r.workflow_id, r.version, r.name, r.description, r.source, r.checksum,
       COALESCE(d.status, 'UNAVAILABLE') AS status, r.registered_at, r.revision, r.label
  FROM definition_revisions AS r
  LEFT JOIN definitions AS d
    ON d.workflow_id = r.workflow_id AND d.checksum = r.checksum
 WHERE r.workflow_id = %(workflow_id)s
   AND r.revision = %(revision)s
   AND r.source IS NOT NULL

-- name: list_revisions
-- Every revision of a workflow, oldest first: which versions serve it, whether a start without
-- a version gets it, and how many unfinished instances run it.
SELECT r.revision, r.version, r.label, r.checksum, r.registered_at, r.dropped_at,
       d.status,
       d.checksum IS NOT NULL AND d.checksum = latest.checksum AS latest,
       (SELECT count(*)
          FROM instances AS i
         WHERE i.workflow_id = r.workflow_id
           AND i.definition_revision = r.revision
           AND i.status IN ('PENDING', 'ACTIVE', 'SUSPENDED', 'ERROR')) AS unfinished
  FROM definition_revisions AS r
  LEFT JOIN definitions AS d
    ON d.workflow_id = r.workflow_id AND d.checksum = r.checksum
  LEFT JOIN LATERAL (SELECT newest.checksum
                       FROM definitions AS newest
                      WHERE newest.workflow_id = r.workflow_id
                        AND newest.status = 'AVAILABLE'
                      ORDER BY newest.registered_at DESC
                      LIMIT 1) AS latest ON true
 WHERE r.workflow_id = %(workflow_id)s
 ORDER BY r.revision

-- name: list_revision_labels
-- What each revision's instances show as their version (`knflow index rebuild`).
SELECT workflow_id, revision, label
  FROM definition_revisions

-- name: drop_unused_revisions
-- Drop the source of revisions that no version serves, that are not `keep`, and that no
-- unfinished instance runs. Run before the served rows change, so the revision served until
-- now stays one more registration: a start that read it as served may still be committing.
UPDATE definition_revisions AS r
   SET source = NULL,
       dropped_at = %(now)s
 WHERE r.workflow_id = %(workflow_id)s
   AND r.source IS NOT NULL
   AND r.checksum <> %(keep)s
   AND NOT EXISTS (SELECT 1
                     FROM definitions AS d
                    WHERE d.workflow_id = r.workflow_id
                      AND d.checksum = r.checksum)
   AND NOT EXISTS (SELECT 1
                     FROM instances AS i
                    WHERE i.workflow_id = r.workflow_id
                      AND i.definition_revision = r.revision
                      AND i.status IN ('PENDING', 'ACTIVE', 'SUSPENDED', 'ERROR'))
RETURNING r.revision
