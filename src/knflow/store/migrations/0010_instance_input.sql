-- The input an instance started with (`$WORKFLOW.input`), written once when it is created:
-- kept out of the execution document, which every step rewrites.
ALTER TABLE instances ADD COLUMN input jsonb;
