-- name: put_tokens
INSERT INTO instance_tokens (instance_id, key_id, nonce, ciphertext, updated_at)
VALUES (%(instance_id)s, %(key_id)s, %(nonce)s, %(ciphertext)s, %(now)s)
ON CONFLICT (instance_id) DO UPDATE
   SET key_id = EXCLUDED.key_id,
       nonce = EXCLUDED.nonce,
       ciphertext = EXCLUDED.ciphertext,
       updated_at = EXCLUDED.updated_at

-- name: get_tokens
SELECT key_id, nonce, ciphertext
  FROM instance_tokens
 WHERE instance_id = %(instance_id)s

-- name: delete_tokens
DELETE FROM instance_tokens
 WHERE instance_id = %(instance_id)s
