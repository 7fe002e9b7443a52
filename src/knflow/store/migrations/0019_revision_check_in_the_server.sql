-- The revision check of an instance's lock and update, made by the server: a step waits for
-- the server once or twice, not three times.
--
-- A unit of work runs pipelined and reads the answers it needs; the update's answer (did the
-- revision match?) was one of them, a wait for the server between the lock and the commit.
-- With the check a statement that raises, a mismatch aborts the transaction instead: COMMIT
-- then fails, nothing of the unit is kept, and the error reaches the caller as before. A step
-- that runs on the row as its process committed it locks it expecting that revision the same
-- way, and needs no answer before COMMIT at all. Its
-- SQLSTATE KN409 (KN: knflow's own class, unused by PostgreSQL; 409: HTTP's Conflict) is the
-- one `store.db` turns into a ConflictError; the message names the instance and revision.

CREATE FUNCTION knflow_expect_revision(matched integer, instance_id text, expected integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    IF matched IS NULL THEN
        RAISE EXCEPTION 'instance ''%'' changed concurrently (revision %)', instance_id, expected
            USING ERRCODE = 'KN409';
    END IF;
    RETURN matched;
END
$$;
