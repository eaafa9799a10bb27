-- Fail fast the queued jobs that name a model (migration 0121) no online miner can run
-- for them (issue 17): none online serves the model (the only one that did left), or
-- every one that does has a context smaller than the job's need_tokens. The companion of
-- sql/job_fail_unroutable.sql (jobs for any model); the same rules: jobs whose business
-- waits (waits_for_miner) are left to their queue deadline, and every job while no miner
-- is online at all. Locks the jobs only (SKIP LOCKED), miners are read (sql/LOCK_ORDER.md).
--
-- Plan: `models` walks the distinct models of waiting-for-nothing queued jobs down
-- jobs_unroutable_model_idx (migration 0122), one index probe per model; each model's
-- jobs above its largest context online are then a range of the same index.
WITH RECURSIVE models AS (
  (SELECT j.model FROM mia.jobs AS j
   WHERE j.status = 'queued' AND NOT j.waits_for_miner AND j.model IS NOT NULL
   ORDER BY j.model LIMIT 1)
  UNION ALL
  SELECT (SELECT j.model FROM mia.jobs AS j
          WHERE j.status = 'queued' AND NOT j.waits_for_miner AND j.model IS NOT NULL AND j.model > q.model
          ORDER BY j.model LIMIT 1)
  FROM models AS q
  WHERE q.model IS NOT NULL
), limits AS (
  SELECT q.model,
         coalesce((SELECT max(coalesce(m.context_length, 2147483647))
                   FROM mia.miners AS m
                   WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL AND m.model = q.model), 0) AS largest
  FROM models AS q
  WHERE q.model IS NOT NULL
    AND EXISTS (SELECT 1 FROM mia.miners AS m WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL)
), due AS (
  SELECT d.id, l.model, l.largest
  FROM limits AS l
  CROSS JOIN LATERAL (
    SELECT j.id FROM mia.jobs AS j
    WHERE j.status = 'queued' AND NOT j.waits_for_miner AND j.model = l.model
      -- Both an index condition on jobs_unroutable_model_idx (need_tokens is set on every
      -- job that names a model).
      AND j.need_tokens > l.largest
    ORDER BY j.need_tokens DESC
    LIMIT :batch_size
    FOR UPDATE OF j SKIP LOCKED
  ) AS d
  LIMIT :batch_size
)
UPDATE mia.jobs AS j
SET status       = 'failed',
    error_code   = NULL,
    error        = CASE WHEN d.largest = 0
                        THEN 'no_capable_miner: no online miner serves the model ''' || d.model || ''''
                        ELSE 'no_capable_miner: the job needs about ' || j.need_tokens
                             || ' tokens of context (prompt + max_tokens); the largest context online for '''
                             || d.model || ''' is ' || d.largest || ' tokens' END,
    completed_at = now()
FROM due AS d
WHERE j.id = d.id
RETURNING j.id
