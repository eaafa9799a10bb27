-- Up Migration
-- The ledger of a miner's judged work, written in one place (STYLE: a state change written
-- once). A result's completion now stores and credits in one statement
-- (sql/job_complete.sql: the plausibility checks judge before it, on the facts the stream
-- lock read), and work on a job cancelled while the miner held it is settled and credited
-- by sql/miner_credit_job.sql; both call this function, so a rule of the ledger (what
-- counts, what is billed, the rate, the keys that make it happen once) changes here only.
--
-- p_work: a JSON array of {job_id, attempt, business_id, status, completed_at, seconds,
-- tokens, prompt_tokens, reason, figures}, one per job whose figures were judged: tokens
-- and prompt_tokens are what the backend accepts (0 for a suspected result), reason NULL =
-- believable (credited tokens × the model's rate), otherwise a suspicion and no credit.
-- A completed job also becomes the business's usage row (what it pays) and counts on the
-- miner's public counters; work on a cancelled job is only credited. Keyed by
-- (job_id, attempt): an attempt is credited and suspected at most once (unique indexes).
-- Returns how many suspicions were recorded.
--
-- Lock order (sql/LOCK_ORDER.md): called after the caller locked and updated the jobs; the
-- miner row comes here, after them. The model is the miner's (its registered name), read
-- here for every row of the ledger.
CREATE FUNCTION mia.credit_work(p_miner_id uuid, p_work jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_model text;
  v_suspicions integer;
BEGIN
  IF p_work IS NULL OR jsonb_array_length(p_work) = 0 THEN
    RETURN 0;
  END IF;
  SELECT coalesce(m.model, 'unknown') INTO v_model FROM mia.miners AS m WHERE m.id = p_miner_id;

  UPDATE mia.miners AS m
  SET job_count = m.job_count + t.jobs,
      total_tokens_generated = m.total_tokens_generated + t.tokens,
      -- Moving average of per-job speed, so one odd job does not swing it.
      tokens_per_second = CASE WHEN t.rate IS NULL THEN m.tokens_per_second
                               WHEN m.tokens_per_second = 0 THEN t.rate
                               ELSE 0.8 * m.tokens_per_second + 0.2 * t.rate END,
      last_active = now()
  FROM (SELECT count(*) FILTER (WHERE w.reason IS NULL) AS jobs,
               coalesce(sum(w.tokens::bigint) FILTER (WHERE w.reason IS NULL), 0) AS tokens,
               avg(w.tokens / greatest(w.seconds, 0.001)) FILTER (WHERE w.reason IS NULL) AS rate,
               count(*) AS completed
        FROM jsonb_to_recordset(p_work) AS w(status text, tokens integer, seconds float8, reason text)
        WHERE w.status = 'completed') AS t
  WHERE m.id = p_miner_id AND t.completed > 0;

  INSERT INTO mia.job_usage (job_id, attempt, business_id, miner_id, model, prompt_tokens, completion_tokens, completed_at)
  SELECT w.job_id, w.attempt, w.business_id, p_miner_id, v_model, coalesce(w.prompt_tokens, 0), w.tokens, w.completed_at
  FROM jsonb_to_recordset(p_work) AS w(job_id uuid, attempt integer, business_id uuid, status text,
                                        completed_at timestamptz, tokens integer, prompt_tokens integer)
  WHERE w.status = 'completed'
  ON CONFLICT (job_id, attempt) DO NOTHING;

  WITH suspected AS (
    INSERT INTO mia.miner_suspicions (miner_id, job_id, attempt, reason, figures)
    SELECT p_miner_id, w.job_id, w.attempt, w.reason, coalesce(w.figures, '{}')
    FROM jsonb_to_recordset(p_work) AS w(job_id uuid, attempt integer, reason text, figures jsonb)
    WHERE w.reason IS NOT NULL
    ON CONFLICT (job_id, attempt, reason) WHERE job_id IS NOT NULL DO NOTHING
    RETURNING 1
  )
  SELECT count(*) INTO v_suspicions FROM suspected;

  INSERT INTO mia.miner_credits (miner_id, kind, job_id, attempt, business_id, model, tokens, rate, seconds, credits)
  SELECT p_miner_id, 'job', w.job_id, w.attempt, w.business_id, v_model, w.tokens, r.rate, w.seconds, w.tokens * r.rate
  FROM jsonb_to_recordset(p_work) AS w(job_id uuid, attempt integer, business_id uuid, completed_at timestamptz,
                                        seconds float8, tokens integer, reason text)
  CROSS JOIN LATERAL (SELECT mia.model_rate(v_model, w.completed_at) AS rate) AS r
  WHERE w.reason IS NULL
  ON CONFLICT (job_id, attempt) WHERE kind = 'job' DO NOTHING;

  RETURN v_suspicions;
END
$$;
COMMENT ON FUNCTION mia.credit_work(uuid, jsonb) IS
  'The ledger of a miner''s judged work: counters, usage, suspicions, credits (sql/job_complete.sql, sql/miner_credit_job.sql).';

-- Down Migration
DROP FUNCTION mia.credit_work(uuid, jsonb);
