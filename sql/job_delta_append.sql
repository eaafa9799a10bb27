-- Store one batch of a job's streamed output (migration 0020), for the lease
-- holder only: the job must be running under :lease_token. The attempt is the
-- job's current one, never the miner's word. A batch already stored (a retried
-- post) is ignored. Batch 0 of an attempt removes what earlier attempts left.
-- The text of an attempt is capped at :max_chars.
-- Locks: jobs (KEY SHARE, from the foreign key) before job_deltas, the order
-- the completion trigger uses too.
WITH job AS (
  SELECT id, status, lease_token, attempts
  FROM mia.jobs
  WHERE id = :job_id
), lease AS (
  SELECT id, attempts FROM job WHERE status = 'running' AND lease_token = :lease_token::uuid
), older AS (
  DELETE FROM mia.job_deltas AS d
  USING lease AS l
  WHERE :seq::integer = 0 AND d.job_id = l.id AND d.attempt < l.attempts
  RETURNING 1
), kept AS (
  INSERT INTO mia.job_deltas (job_id, attempt, seq, text_start, content, tool_start, tool_calls)
  SELECT l.id, l.attempts, :seq, :text_start, :content, :tool_start, :tool_calls::jsonb
  FROM lease AS l
  WHERE :text_start::integer + length(:content::text) <= :max_chars::integer
  ON CONFLICT (job_id, attempt, seq) DO NOTHING
  RETURNING attempt
)
SELECT EXISTS (SELECT 1 FROM job) AS found,
       (SELECT status FROM job) AS status,
       (SELECT attempts FROM lease) AS attempt,
       EXISTS (SELECT 1 FROM kept) AS stored,
       (SELECT count(*) FROM older) AS dropped
