-- The due-jobs queries also look at RUNNING jobs (leases that may have lapsed); the partial
-- index of 0003 left them out, so those queries could not use it.

DROP INDEX IF EXISTS jobs_due_idx;
CREATE INDEX jobs_pending_expiration_time_idx ON jobs (expiration_time)
    WHERE status IN ('SCHEDULED', 'RETRY', 'RUNNING');
