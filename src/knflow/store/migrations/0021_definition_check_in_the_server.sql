-- The definition check of a start, made by the server: a start waits for it once less.
--
-- start-workflow keeps the latest definition of each workflow it served and starts the next
-- instance on it without reading it again; the unit of work sends this check instead, and
-- does not wait for its answer. When the workflow was registered again (or withdrawn)
-- meanwhile, the check raises and aborts the transaction: COMMIT fails, nothing of the
-- start is kept, and start-workflow reads the definition and starts again. SQLSTATE KN412
-- (KN: knflow's own class, unused by PostgreSQL; 412: HTTP's Precondition Failed) is the one
-- `store.db` turns into a DefinitionChangedError.

CREATE FUNCTION knflow_expect_definition(served text, workflow_id text, expected text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    IF served IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'workflow ''%'' changed since this process read it', workflow_id
            USING ERRCODE = 'KN412';
    END IF;
    RETURN served;
END
$$;
