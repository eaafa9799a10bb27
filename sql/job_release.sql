-- Hand back jobs claimed for a long-poll whose client left before it could be
-- answered. Fenced by lease token; the attempt is not counted.
UPDATE mia.jobs
SET status = 'queued', miner_id = NULL, lease_token = NULL, lease_expires_at = NULL,
    attempts = greatest(attempts - 1, 0), claimed_at = NULL
WHERE status = 'running' AND lease_token = ANY (:lease_tokens::uuid[])
RETURNING id
