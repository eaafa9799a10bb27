-- Take back running jobs whose lease has expired (their miner stopped
-- heartbeating): requeued or dead-lettered by the one give-back transition
-- (mia.job_give_back, migration 0100), the attempt counted (free on probation).
-- No backoff: the lease already made the job wait. SKIP LOCKED: a row a claim,
-- heartbeat or result holds right now is left for the next run, so the reaper
-- never makes the hot path wait. At most :batch_size rows per statement, oldest
-- expiry first.
WITH expired AS (
  SELECT id
  FROM mia.jobs
  -- Served by jobs_running_lease_idx.
  WHERE status = 'running' AND lease_expires_at < now()
  ORDER BY lease_expires_at
  LIMIT :batch_size
  FOR UPDATE SKIP LOCKED
)
SELECT g.job_id, g.status
FROM mia.job_give_back(ARRAY(SELECT id FROM expired), ARRAY['lease expired (its miner stopped responding)'], 0) AS g
