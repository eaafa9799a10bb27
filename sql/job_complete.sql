-- Store and credit successful results of one miner, one or many in one statement.
-- :results is a JSON array of {job_id, lease_token, output, miner_output, tool_calls,
-- tokens_generated, prompt_tokens, verdict}: output is the customer's answer,
-- miner_output the miner's text when restoring placeholders changed it
-- (api/privacy/restoreResults.ts), tokens_generated/prompt_tokens the miner's figures.
-- verdict is what the plausibility checks accepted of them, {tokens, prompt_tokens, reason,
-- figures} (api/credits/creditResults.ts, judged on the facts sql/job_stream_lock.sql read
-- under the same locks): the tokens the business sees and pays and the miner is credited
-- (0 for a suspected result: reason not NULL, a suspicion and no credit); a result with no
-- verdict (a canary: api/trust/canaries.ts) is stored and earns nothing.
-- Fencing: only a running job held by this miner under that lease, before the lease
-- expired, is completed (after it, the job is the reaper's to give back, whether or not it
-- has run yet: 409 lease_lost); others are left untouched and classified by the caller
-- (sql/job_result_check.sql). The same statement writes the assistant's chat-log row, so a
-- result is never half stored, and the ledger (mia.credit_work, migration 0193): the
-- miner's counters, the business's usage row, the credit or the suspicion, each keyed by
-- (job_id, attempt), so an attempt is credited and suspected at most once.
-- One statement for what were two (the completion, then sql/miner_credit_job.sql, which
-- wrote the accepted figures into the row the completion had just written): one round
-- trip and one version of the job row fewer per result (issue 17). sql/miner_credit_job.sql
-- still credits work on jobs cancelled while the miner held them.
-- Lock order (sql/LOCK_ORDER.md): the jobs by id (`locked`), the miner row after them in
-- mia.credit_work, which `ledger` calls with what `done` wrote.
WITH input AS (
  SELECT *
  FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, output text, miner_output text,
                                                tool_calls jsonb, tokens_generated integer,
                                                prompt_tokens integer, verdict jsonb)
), locked AS (
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
      tokens_generated = (i.verdict->>'tokens')::integer, prompt_tokens = (i.verdict->>'prompt_tokens')::integer,
      error = NULL, error_code = NULL, completed_at = now(), lease_expires_at = NULL
  FROM input AS i, locked AS l
  WHERE j.id = i.job_id AND j.id = l.id AND j.status = 'running' AND j.miner_id = :miner_id
    AND j.lease_token = i.lease_token
  RETURNING j.id, j.attempts, j.business_id, j.session_id, j.output, j.completed_at,
            extract(epoch FROM j.completed_at - coalesce(j.claimed_at, j.completed_at))::double precision AS ran_s,
            i.verdict IS NOT NULL AS judged,
            coalesce((i.verdict->>'tokens')::integer, 0) AS tokens,
            coalesce((i.verdict->>'prompt_tokens')::integer, 0) AS prompt_tokens,
            i.verdict->>'reason' AS reason, i.verdict->'figures' AS figures
), assistant_log AS (
  INSERT INTO mia.chat_logs (session_id, business_id, job_id, role, message)
  SELECT session_id, business_id, id, 'assistant', output FROM done
  ON CONFLICT (job_id, role) DO NOTHING
), ledger AS MATERIALIZED (
  -- The counters, usage row, credit or suspicion of each judged job (mia.credit_work,
  -- migration 0193), once, after `done`: its argument reads `done`.
  SELECT mia.credit_work(:miner_id, (
    SELECT jsonb_agg(jsonb_build_object(
             'job_id', id, 'attempt', attempts, 'business_id', business_id, 'status', 'completed',
             'completed_at', completed_at, 'seconds', ran_s, 'tokens', tokens, 'prompt_tokens', prompt_tokens,
             'reason', reason, 'figures', figures))
    FROM done WHERE judged)) AS suspicions
)
-- ran_s: the job duration for the metrics (api/jobs/submitResults.ts), on the database's clock.
-- suspicions: how many this statement recorded (the caller then weighs a suspension).
SELECT d.id AS job_id, d.ran_s, l.suspicions
FROM done AS d CROSS JOIN ledger AS l
