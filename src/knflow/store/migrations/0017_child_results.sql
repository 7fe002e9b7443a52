-- Results of foreach iterations, kept apart from the instance's execution until collected.
--
-- The execution is rewritten on every step; holding the results gathered so far there made
-- each step of a long foreach cost the whole collection. A row is written once, with the
-- step that finished its iteration, and deleted when the foreach collects its family;
-- the retention purge takes any left by an abandoned foreach with its instance.

CREATE TABLE child_results (
    instance_id text NOT NULL,
    family      text NOT NULL,
    child_index integer NOT NULL,
    leftover    jsonb NOT NULL,
    CONSTRAINT child_results_pkey PRIMARY KEY (instance_id, family, child_index)
);
