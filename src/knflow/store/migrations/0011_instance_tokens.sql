-- Forwarded tokens of instances, sealed; who started each instance.
--
-- The X-Authorization-* headers an instance keeps for its calls live here, encrypted with
-- AES-256-GCM by the runtime (key_id names the key; the instance id is the associated data),
-- and nowhere else: not in instances.headers ($WORKFLOW.headers), data, events or the index.
-- A row is deleted when its instance ends.

CREATE TABLE instance_tokens (
    instance_id text PRIMARY KEY,
    key_id      text NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    updated_at  timestamptz NOT NULL
);

ALTER TABLE instances ADD COLUMN initiator text;

-- Instances started before this migration kept the tokens in plain text: drop them there.
UPDATE instances
   SET headers = headers - ARRAY(
           SELECT name FROM jsonb_object_keys(headers) AS name
            WHERE lower(name) LIKE 'x-authorization-%')
 WHERE EXISTS (
           SELECT 1 FROM jsonb_object_keys(headers) AS name
            WHERE lower(name) LIKE 'x-authorization-%');
