-- name: claim_start_key
-- Record that this start owns the key, unless a start younger than the window owns it. On a
-- conflict PostgreSQL waits for the other start's transaction, so two concurrent starts with
-- one key never both create an instance; nothing returned means the key is taken.
INSERT INTO start_keys (workflow_id, key_kind, key, instance_id, request_hash, created_at)
VALUES (%(workflow_id)s, %(key_kind)s, %(key)s, %(instance_id)s, %(request_hash)s, %(now)s)
ON CONFLICT (workflow_id, key_kind, key) DO UPDATE
   SET instance_id = EXCLUDED.instance_id,
       request_hash = EXCLUDED.request_hash,
       created_at = EXCLUDED.created_at
 WHERE start_keys.created_at < %(expired_before)s
RETURNING instance_id

-- name: find_start_key
SELECT instance_id, request_hash, created_at
  FROM start_keys
 WHERE workflow_id = %(workflow_id)s
   AND key_kind = %(key_kind)s
   AND key = %(key)s
