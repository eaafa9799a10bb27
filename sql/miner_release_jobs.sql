-- A miner going offline gives its running jobs back. The attempt it spent is
-- not counted against the job: the job did not fail, the miner left.
UPDATE mia.jobs
SET status = 'queued', miner_id = NULL, lease_token = NULL, lease_expires_at = NULL,
    attempts = greatest(attempts - 1, 0), claimed_at = NULL
WHERE miner_id = :miner_id AND status = 'running'
RETURNING id
