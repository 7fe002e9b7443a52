-- name: keep_child_results
-- One row per finished iteration, passed as one JSON array. A repeated iteration (its
-- step re-run after a crash rolled the first back) replaces its row.
INSERT INTO child_results (instance_id, family, child_index, leftover)
SELECT %(instance_id)s, kept.family, kept.child_index, kept.leftover
  FROM jsonb_to_recordset(%(kept)s) AS kept (family text, child_index integer, leftover jsonb)
ON CONFLICT (instance_id, family, child_index) DO UPDATE
   SET leftover = EXCLUDED.leftover

-- name: take_child_results
WITH taken AS (
    DELETE FROM child_results
     WHERE instance_id = %(instance_id)s
       AND family = %(family)s
    RETURNING child_index, leftover
)
SELECT leftover
  FROM taken
 ORDER BY child_index
