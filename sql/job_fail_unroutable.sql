-- Fail fast the queued jobs for any model (jobs.model NULL) no online miner can hold
-- (issue 17; those that name a model: sql/job_fail_unroutable_model.sql): miners are online,
-- yet every one's context (per slot) is smaller than the job's need_tokens, e.g. the
-- only big miner left. Without this such a job waits out its whole queue deadline.
-- Jobs whose business asked to wait (waits_for_miner) are left to their deadline, and
-- so is every job while no miner is online at all (nothing to judge by: the largest
-- context is then NULL and nothing compares above it). A miner that reports no context
-- holds anything. Locks the jobs only (SKIP LOCKED: a claim holding the row wins);
-- miners are read, not locked (sql/LOCK_ORDER.md). The status change fires the finish
-- triggers, so a waiting /chat, a stream and the webhook hear it.
--
-- Plan: the largest context is a scalar subquery (an InitPlan, computed once), so it is
-- an index condition on jobs_unroutable_idx (migration 0122): only the jobs above it are
-- read, however deep the queue (a join with a CTE made it a join filter: 200k queued
-- jobs read per run to fail none).
WITH due AS (
  SELECT j.id
  FROM mia.jobs AS j
  WHERE j.status = 'queued' AND NOT j.waits_for_miner AND j.model IS NULL
    AND j.need_tokens > (SELECT max(coalesce(m.context_length, 2147483647))
                         FROM mia.miners AS m
                         WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL)
  ORDER BY j.need_tokens DESC
  LIMIT :batch_size
  FOR UPDATE OF j SKIP LOCKED
)
UPDATE mia.jobs AS j
SET status       = 'failed',
    error_code   = NULL,
    error        = 'no_capable_miner: the job needs about ' || j.need_tokens
                   || ' tokens of context (prompt + max_tokens); the largest context online is '
                   || (SELECT max(coalesce(m.context_length, 2147483647))
                       FROM mia.miners AS m
                       WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL) || ' tokens',
    completed_at = now()
FROM due AS d
WHERE j.id = d.id
RETURNING j.id
