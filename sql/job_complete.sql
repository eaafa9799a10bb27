-- Store successful results of one miner, one or many in one statement.
-- :results is a JSON array of {job_id, lease_token, output, tool_calls,
-- tokens_generated, prompt_tokens}. Fencing: only a running job held by this
-- miner under that lease is completed; others
-- are left untouched and classified by the caller (sql/job_result_check.sql).
-- The same statement counts the work to the miner and writes the assistant's
-- chat-log row, so a result is never half stored.
WITH input AS (
  SELECT *
  FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, output text,
                                                tool_calls jsonb, tokens_generated integer,
                                                prompt_tokens integer)
), locked AS (
  -- Lock order (sql/LOCK_ORDER.md): the jobs by id, then the miner (in `counted`).
  SELECT j.id
  FROM mia.jobs AS j JOIN input AS i ON j.id = i.job_id
  WHERE j.status = 'running' AND j.miner_id = :miner_id AND j.lease_token = i.lease_token
  ORDER BY j.id
  FOR UPDATE OF j
), done AS (
  UPDATE mia.jobs AS j
  SET status = 'completed', output = i.output, tool_calls = i.tool_calls,
      tokens_generated = i.tokens_generated, prompt_tokens = i.prompt_tokens, error = NULL,
      completed_at = now(), lease_expires_at = NULL
  FROM input AS i, locked AS l
  WHERE j.id = i.job_id AND j.id = l.id AND j.status = 'running' AND j.miner_id = :miner_id
    AND j.lease_token = i.lease_token
  RETURNING j.id, j.business_id, j.session_id, j.output, j.tokens_generated,
            extract(epoch FROM now() - j.claimed_at) AS seconds
), counted AS (
  UPDATE mia.miners AS m
  SET job_count = m.job_count + t.jobs,
      total_tokens_generated = m.total_tokens_generated + t.tokens,
      -- Moving average of per-job speed, so one odd job does not swing it.
      tokens_per_second = CASE WHEN m.tokens_per_second = 0 THEN t.rate
                               ELSE 0.8 * m.tokens_per_second + 0.2 * t.rate END,
      last_active = now()
  FROM (SELECT count(*) AS jobs, coalesce(sum(tokens_generated), 0) AS tokens,
               avg(tokens_generated / greatest(seconds, 0.001)) AS rate
        FROM done) AS t
  WHERE m.id = :miner_id AND t.jobs > 0
  RETURNING m.id
), assistant_log AS (
  INSERT INTO mia.chat_logs (session_id, business_id, job_id, role, message)
  SELECT session_id, business_id, id, 'assistant', output FROM done
  ON CONFLICT (job_id, role) DO NOTHING
)
SELECT id AS job_id FROM done
