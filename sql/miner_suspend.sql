-- Suspend a miner (after sql/miner_release_jobs.sql in the same transaction:
-- jobs before miners). It stays offline to the queue until reinstated.
UPDATE mia.miners
SET suspended_at = coalesce(suspended_at, now()), suspended_reason = :reason, status = 'offline',
    status_reason = 'suspended: ' || :reason
WHERE id = :miner_id
RETURNING id, suspended_at
