-- A miner hands back jobs it claimed ahead and never started (issue 18: on SIGTERM, or a
-- job waiting ahead that will not run here). Nothing was generated, so the attempt is not
-- counted (mia.job_give_back with p_free, migration 0125): a drain no longer burns one of
-- the job's attempts. A stranger cannot use this to hold a job forever: only a job with no
-- delta stored for its attempt qualifies, and only :max_free times per job; past that, or
-- with deltas, the job stays running and the heartbeat that follows drops it, counted.
-- Fenced by this miner's lease tokens; jobs by id (sql/LOCK_ORDER.md).
WITH held AS (
  SELECT j.id
  FROM mia.jobs AS j
  WHERE j.miner_id = :miner_id AND j.status = 'running' AND j.lease_token = ANY (:lease_tokens::uuid[])
    AND j.free_drops < :max_free
    AND NOT EXISTS (SELECT 1 FROM mia.job_deltas AS d WHERE d.job_id = j.id AND d.attempt = j.attempts)
  ORDER BY j.id
  FOR UPDATE OF j
)
SELECT g.job_id
FROM mia.job_give_back(ARRAY(SELECT id FROM held ORDER BY id), ARRAY['handed back unstarted by its miner'], 0,
                       false, NULL, true) AS g
