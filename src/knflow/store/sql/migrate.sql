-- name: create_schema_migrations
-- The ledger of applied migrations; created before anything else.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: lock_migrations
-- Transaction-scoped advisory lock: one migrator at a time, released at commit.
SELECT pg_advisory_xact_lock(%(key)s)

-- name: applied_checksums
SELECT version, checksum
  FROM schema_migrations
 ORDER BY version

-- name: record_migration
INSERT INTO schema_migrations (version, name, checksum)
VALUES (%(version)s, %(name)s, %(checksum)s)
