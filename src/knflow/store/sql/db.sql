-- name: begin_transaction
-- Sent as a statement inside a pipeline (see db.pipelined_transaction): queued with the first
-- query instead of waited for.
BEGIN

-- name: commit_transaction
-- Ends the transaction of `db.pipelined_transaction`: sent with its last statements.
COMMIT

-- name: set_statement_timeout
-- Bound every statement of the current transaction only (is_local = true), so a pooled
-- connection goes back to the pool with the server's own timeout.
SELECT set_config('statement_timeout', %(milliseconds)s, true)
