-- name: begin_transaction
-- Sent as a statement inside a pipeline (see db.pipelined_transaction): queued with the first
-- query instead of waited for.
BEGIN

-- name: commit_transaction
-- Ends the transaction of `db.pipelined_transaction`: sent with its last statements.
COMMIT

-- name: set_session_statement_timeout
-- Bound every statement of the session (is_local = false): the connections of a pool of
-- `db.bounded_reads`, which only they use, get it once as they connect.
SELECT set_config('statement_timeout', %(milliseconds)s, false)
