-- Fail fast the queued jobs of a restricted business (jobs.pool, migration 0170) that no
-- online miner may take: miners are online, but none holds the job's pool key for its
-- model (README "Pools"). Like sql/job_fail_unroutable.sql: jobs whose business waits
-- (waits_for_miner) are left to their deadline, and so is every job while no miner is
-- online; SKIP LOCKED (a claim holding the row wins); miners are read, not locked.
-- Plan: restricted queued jobs are read from jobs_pool_claim_idx; the miners
-- look-up per job reads the small miners table.
WITH due AS (
  SELECT j.id
  FROM mia.jobs AS j
  WHERE j.status = 'queued' AND j.pool IS NOT NULL AND NOT j.waits_for_miner
    AND EXISTS (SELECT 1 FROM mia.miners AS m WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL)
    AND NOT EXISTS (
      SELECT 1 FROM mia.miners AS m
      WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL
        AND (j.model IS NULL OR m.model = j.model)
        -- The keys of sql/job_claim.sql: own miners hold their business's only.
        AND CASE WHEN j.pool = 'trusted' THEN m.operator_trusted AND m.owner_business_id IS NULL
                 WHEN j.pool = 'verified' THEN m.owner_business_id IS NULL AND (m.operator_trusted OR EXISTS (
                   SELECT 1 FROM mia.miner_verifications AS v
                   WHERE v.miner_id = m.id AND v.model = m.model AND v.verified_at IS NOT NULL))
                 ELSE j.pool = 'own:' || m.owner_business_id::text END)
  LIMIT :batch_size
  FOR UPDATE OF j SKIP LOCKED
)
UPDATE mia.jobs AS j
SET status       = 'failed',
    error_code   = NULL,
    error        = 'no_capable_miner: no online miner of the business''s pool ('
                   || split_part(j.pool, ':', 1) || ') serves ' || coalesce('model ' || j.model, 'this job'),
    completed_at = now()
FROM due AS d
WHERE j.id = d.id
RETURNING j.id
