-- Take back running jobs whose lease has expired (their miner stopped
-- heartbeating). The attempt was counted at claim (unless its miner is on
-- probation: mia.attempt_counts, migration 0090): a job that still has
-- attempts left goes back to the queue (the queued trigger wakes miners), one
-- that has used max_attempts goes to 'failed', the dead-letter state. SKIP
-- LOCKED: a row a claim, heartbeat or result holds right now is left for the
-- next run, so the reaper never makes the hot path wait. At most :batch_size
-- rows per statement, oldest expiry first.
WITH expired AS (
  SELECT id
  FROM mia.jobs
  -- Served by jobs_running_lease_idx.
  WHERE status = 'running' AND lease_expires_at < now()
  ORDER BY lease_expires_at
  LIMIT :batch_size
  FOR UPDATE SKIP LOCKED
)
UPDATE mia.jobs AS j
SET status           = CASE WHEN (mia.attempt_counts(j)).exhausted THEN 'failed' ELSE 'queued' END,
    error            = CASE WHEN (mia.attempt_counts(j)).exhausted
                            THEN 'lease expired on attempt ' || j.attempts || ' of ' || j.max_attempts || ' (miner stopped responding)'
                            ELSE j.error END,
    max_attempts     = (mia.attempt_counts(j)).max_attempts,
    free_drops       = (mia.attempt_counts(j)).free_drops,
    run_after        = (mia.attempt_counts(j)).run_after,
    -- A dead-lettered job keeps its last holder, for the post-mortem.
    miner_id         = CASE WHEN (mia.attempt_counts(j)).exhausted THEN j.miner_id END,
    lease_token      = NULL,
    lease_expires_at = NULL,
    completed_at     = CASE WHEN (mia.attempt_counts(j)).exhausted THEN now() END
FROM expired AS e
WHERE j.id = e.id
RETURNING j.id AS job_id, j.status
