-- Fail fast the queued jobs no online miner can hold (issue 17): miners are online,
-- yet every one's context (per slot) is smaller than the job's need_tokens, e.g. the
-- only big miner left. Without this such a job waits out its whole queue deadline.
-- Jobs whose business asked to wait (waits_for_miner) are left to their deadline, and
-- so is every job while no miner is online at all (nothing to judge by). A miner that
-- reports no context holds anything. Locks the jobs only (SKIP LOCKED: a claim holding
-- the row wins); miners are read, not locked (sql/LOCK_ORDER.md). The status change
-- fires the finish triggers, so a waiting /chat, a stream and the webhook hear it.
WITH capacity AS (
  SELECT count(*) AS online, max(coalesce(m.context_length, 2147483647)) AS largest
  FROM mia.miners AS m
  WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL
), due AS (
  SELECT j.id
  FROM mia.jobs AS j, capacity AS c
  -- Served by jobs_unroutable_idx (migration 0120): a range above the largest context.
  WHERE j.status = 'queued' AND NOT j.waits_for_miner AND j.need_tokens IS NOT NULL
    AND c.online > 0 AND j.need_tokens > c.largest
  ORDER BY j.need_tokens DESC
  LIMIT :batch_size
  FOR UPDATE OF j SKIP LOCKED
)
UPDATE mia.jobs AS j
SET status       = 'failed',
    error        = 'no_capable_miner: the job needs about ' || j.need_tokens
                   || ' tokens of context (prompt + max_tokens); the largest context online is '
                   || (SELECT largest FROM capacity) || ' tokens',
    completed_at = now()
FROM due AS d
WHERE j.id = d.id
RETURNING j.id
