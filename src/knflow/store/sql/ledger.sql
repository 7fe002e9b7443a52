-- name: applied_versions
-- The versions `migrate` recorded; what readiness compares with the shipped files.
SELECT version
  FROM schema_migrations
