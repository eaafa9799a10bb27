-- Mark miners that have been silent (no heartbeat, long-poll or result) for
-- :offline_after_s seconds as offline, and take back their running jobs at
-- once instead of waiting for each lease to run out. The miner most likely
-- died, possibly because of the job, so the attempt stays counted, exactly as
-- for an expired lease (mia.job_give_back, migration 0100): back to the queue,
-- or to 'failed' after max_attempts (free for a miner on probation).
-- SKIP LOCKED on both tables: rows in use right now are left for the next run
-- (or, for jobs, for the lease reaper).
WITH silent AS (
  SELECT id
  FROM mia.miners
  WHERE status <> 'offline' AND last_active < now() - make_interval(secs => :offline_after_s::double precision)
  FOR UPDATE SKIP LOCKED
), marked AS (
  UPDATE mia.miners AS m
  SET status = 'offline'
  FROM silent AS s
  WHERE m.id = s.id
  RETURNING m.id
), held AS (
  SELECT j.id
  FROM mia.jobs AS j
  -- Served by jobs_running_miner_idx.
  WHERE j.status = 'running' AND j.miner_id IN (SELECT id FROM silent)
  FOR UPDATE OF j SKIP LOCKED
), released AS (
  -- The one give-back transition (mia.job_give_back, migration 0100).
  SELECT g.job_id
  FROM mia.job_give_back(ARRAY(SELECT id FROM held), ARRAY['its miner went silent'], 0) AS g
)
SELECT (SELECT count(*) FROM marked) AS miners_marked, (SELECT count(*) FROM released) AS jobs_released
