-- name: set_statement_timeout
-- Bound every statement of the current transaction only (is_local = true), so a pooled
-- connection goes back to the pool with the server's own timeout.
SELECT set_config('statement_timeout', %(milliseconds)s, true)

-- name: begin
-- Opens the transaction of `db.pipelined_transaction`: sent with its first statement.
BEGIN

-- name: commit
-- Ends the transaction of `db.pipelined_transaction`: sent with its last statements.
COMMIT
