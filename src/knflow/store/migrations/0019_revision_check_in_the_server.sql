-- The revision check of an instance update, made by the server: a step waits for it once less.
--
-- A unit of work runs pipelined and reads the answers it needs; the update's answer (did the
-- revision match?) was one of them, a wait for the server between the lock and the commit.
-- With the check a statement that raises, a mismatch aborts the transaction instead: COMMIT
-- then fails, nothing of the unit is kept, and the error reaches the caller as before. Its
-- SQLSTATE KN409 (KN: knflow's own class, unused by PostgreSQL; 409: HTTP's Conflict) is the
-- one `store.db` turns into a ConflictError; the message names the instance and revision.

CREATE FUNCTION knflow_expect_revision(written integer, instance_id text, expected integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    IF written IS NULL THEN
        RAISE EXCEPTION 'instance ''%'' changed concurrently (revision %)', instance_id, expected
            USING ERRCODE = 'KN409';
    END IF;
    RETURN written;
END
$$;
