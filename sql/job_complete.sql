-- Store successful results of one miner, one or many in one statement.
-- :results is a JSON array of {job_id, lease_token, output, miner_output,
-- tool_calls, tokens_generated, prompt_tokens}: output is the customer's answer,
-- miner_output the miner's text when restoring placeholders changed it
-- (api/privacy/restoreResults.ts). Fencing: only a running job held by this
-- miner under that lease, before the lease expired, is completed (after it, the job is
-- the reaper's to give back, whether or not it has run yet: 409 lease_lost); others
-- are left untouched and classified by the caller (sql/job_result_check.sql).
-- The same statement writes the assistant's chat-log row, so a result is never
-- half stored. The token counts are stored as reported: the figures the
-- business sees and the miner's counters are settled, in the same transaction,
-- by sql/miner_credit_job.sql once the plausibility checks have judged them.
WITH input AS (
  SELECT *
  FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, output text, miner_output text,
                                                tool_calls jsonb, tokens_generated integer,
                                                prompt_tokens integer)
), locked AS (
  -- Lock order (sql/LOCK_ORDER.md): the jobs by id; the miner comes later, in sql/miner_credit_job.sql.
  SELECT j.id
  FROM mia.jobs AS j JOIN input AS i ON j.id = i.job_id
  WHERE j.status = 'running' AND j.miner_id = :miner_id AND j.lease_token = i.lease_token
    AND j.lease_expires_at >= now()
  ORDER BY j.id
  FOR UPDATE OF j
), done AS (
  UPDATE mia.jobs AS j
  SET status = 'completed', output = i.output, miner_output = i.miner_output, tool_calls = i.tool_calls,
      tokens_reported = i.tokens_generated, prompt_tokens_reported = i.prompt_tokens,
      tokens_generated = NULL, prompt_tokens = NULL, error = NULL, error_code = NULL,
      completed_at = now(), lease_expires_at = NULL
  FROM input AS i, locked AS l
  WHERE j.id = i.job_id AND j.id = l.id AND j.status = 'running' AND j.miner_id = :miner_id
    AND j.lease_token = i.lease_token
  RETURNING j.id, j.business_id, j.session_id, j.output,
            extract(epoch FROM j.completed_at - coalesce(j.claimed_at, j.completed_at))::double precision AS ran_s,
            j AS job
), assistant_log AS (
  INSERT INTO mia.chat_logs (session_id, business_id, job_id, role, message)
  SELECT session_id, business_id, id, 'assistant', output FROM done
  ON CONFLICT (job_id, role) DO NOTHING
)
-- ran_s: the job duration for the metrics (api/jobs/submitResults.ts), on the database's clock.
-- With what the plausibility checks need (mia.credit_facts, migration 0181), read from the
-- row just written: the result's transaction needs no read of its own for them.
SELECT d.ran_s, f.*
FROM done AS d
CROSS JOIN LATERAL mia.credit_facts(d.job) AS f
