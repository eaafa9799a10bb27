-- Fail queued jobs whose queue deadline has passed: no miner took them in time
-- (none online, none serving what they need, all busy). The status change fires
-- the finish triggers, so a waiting /chat, a stream and the webhook hear it.
-- A job that was claimed and then requeued keeps its deadline: the customer has
-- waited that long already. SKIP LOCKED: a claim holding the row wins.
WITH due AS (
  SELECT id
  FROM mia.jobs
  -- Served by jobs_queue_deadline_idx.
  WHERE status = 'queued' AND queue_deadline IS NOT NULL AND queue_deadline <= now()
  ORDER BY queue_deadline
  LIMIT :batch_size
  FOR UPDATE SKIP LOCKED
)
UPDATE mia.jobs AS j
SET status       = 'failed',
    error        = 'no_miner_available: no miner took the job within '
                   || round(extract(epoch FROM j.queue_deadline - j.created_at))::int || ' s'
                   -- A miner's own words (error_code set, migration 0125) are named by their code only.
                   || CASE WHEN j.attempts > 0 THEN ' (after ' || j.attempts || ' failed attempt(s); last: ' || coalesce(j.error_code, j.error, 'none') || ')' ELSE '' END,
    error_code   = NULL,
    completed_at = now()
FROM due AS d
WHERE j.id = d.id
RETURNING j.id
