-- name: begin_transaction
-- Sent by hand inside a pipeline (see db.bounded_transaction): queued with the first query.
BEGIN

-- name: commit_transaction
COMMIT

-- name: set_statement_timeout
-- Bound every statement of the current transaction only (is_local = true), so a pooled
-- connection goes back to the pool with the server's own timeout.
SELECT set_config('statement_timeout', %(milliseconds)s, true)
