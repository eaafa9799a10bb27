-- Store one batch of a job's streamed output (migrations 0020, 0080), for the
-- lease holder only: the job must be running under :lease_token and held by
-- :miner_id (another miner's key that learnt the token is refused). The attempt
-- is the job's current one, never the miner's word.
-- Batches are contiguous: seq counts from 0 without gaps, text_start is the
-- end of the attempt's text so far and tool_start its tool-call deltas so far,
-- both read from the previous batch (one primary-key lookup). A batch already
-- stored with the same content (a retried post) is a no-op. Batch 0 of an
-- attempt removes what earlier attempts left.
-- The attempt as a whole (text plus tool-call JSON, `size_end`) is capped at
-- :max_chars.
-- Locks: the job (KEY SHARE, taken here so a completion holding it FOR UPDATE,
-- api/integrity/screenResults.ts, makes this statement wait and then see the
-- job finished) before job_deltas, the order the completion trigger uses too.
WITH job AS (
  SELECT id, status, lease_token, miner_id, attempts, created_at
  FROM mia.jobs
  WHERE id = :job_id
  FOR KEY SHARE
), lease AS (
  SELECT id, attempts FROM job
  WHERE status = 'running' AND lease_token = :lease_token::uuid AND miner_id = :miner_id::uuid
), previous AS (
  SELECT d.text_start + length(d.content) AS text_end,
         d.tool_start + coalesce(jsonb_array_length(d.tool_calls), 0) AS tool_end,
         d.size_end
  FROM mia.job_deltas AS d JOIN lease AS l ON d.job_id = l.id AND d.attempt = l.attempts
  WHERE d.seq = :seq::integer - 1
), same AS (
  SELECT d.text_start = :text_start AND d.content = :content AND d.tool_start = :tool_start
         AND d.tool_calls IS NOT DISTINCT FROM :tool_calls::jsonb AS identical
  FROM mia.job_deltas AS d JOIN lease AS l ON d.job_id = l.id AND d.attempt = l.attempts
  WHERE d.seq = :seq::integer
), expected AS (
  -- Where this batch must start; none when batch seq-1 is missing (a gap).
  SELECT 0 AS text_end, 0 AS tool_end, 0 AS size_end WHERE :seq::integer = 0
  UNION ALL
  SELECT text_end, tool_end, size_end FROM previous
), fits AS (
  SELECT e.size_end + length(:content::text) + coalesce(length(:tool_calls::jsonb::text), 0) AS size_end
  FROM expected AS e
  WHERE e.text_end = :text_start::integer AND e.tool_end = :tool_start::integer
    AND NOT EXISTS (SELECT 1 FROM same)
), older AS (
  DELETE FROM mia.job_deltas AS d
  USING lease AS l
  WHERE :seq::integer = 0 AND d.job_id = l.id AND d.attempt < l.attempts
  RETURNING 1
), kept AS (
  INSERT INTO mia.job_deltas (job_id, attempt, seq, text_start, content, tool_start, tool_calls, size_end)
  SELECT l.id, l.attempts, :seq, :text_start, :content, :tool_start, :tool_calls::jsonb, f.size_end
  FROM lease AS l, fits AS f
  WHERE f.size_end <= :max_chars::integer
  ON CONFLICT (job_id, attempt, seq) DO NOTHING
  RETURNING attempt
)
SELECT EXISTS (SELECT 1 FROM job) AS found,
       (SELECT status FROM job) AS status,
       (SELECT attempts FROM lease) AS attempt,
       EXISTS (SELECT 1 FROM kept) AS stored,
       coalesce((SELECT identical FROM same), false) AS duplicate,
       EXISTS (SELECT 1 FROM fits WHERE size_end > :max_chars::integer) AS too_large,
       (SELECT text_end FROM expected) AS expected_text_start,
       (SELECT tool_end FROM expected) AS expected_tool_start,
       (SELECT count(*) FROM older) AS dropped,
       -- The job's age, on the database's clock: batch 0's is the time to first token (metrics).
       (SELECT extract(epoch FROM now() - created_at)::double precision FROM job) AS age_s,
       -- This statement's commit does not wait for the WAL flush (~1 ms on the way to every
       -- streamed word). Only a crash of the database server within the WAL writer's delay
       -- undoes such a batch; the streams reading it break with that crash, the miner's
       -- next batch is refused as a gap, and the result (committed durably) is checked
       -- against the batches kept. Jobs, results and credits keep durable commits.
       set_config('synchronous_commit', 'off', true) AS synchronous_commit
