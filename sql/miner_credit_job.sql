-- Settle, credit (or suspect) the work of accepted results, in the transaction
-- that accepted them. :verdicts is a JSON array of {job_id, tokens,
-- prompt_tokens, reason, figures}: the tokens the backend accepts (0 for a
-- suspected result: it bills nothing and counts nothing) and reason NULL =
-- believable, credited tokens × the model's rate; otherwise a suspicion and no
-- credit. The accepted figures become the job's tokens_generated/prompt_tokens
-- (what the business sees), its usage row (what it pays) and the miner's public
-- counters. Keyed by (job_id, attempt): a job attempt is credited and suspected
-- at most once (unique indexes).
-- Lock order (sql/LOCK_ORDER.md): the jobs (already locked by sql/job_complete.sql
-- in this transaction) are updated in `settled`, the miner row after them in
-- `counted`, which reads from `settled`.
WITH verdict AS (
  SELECT *
  FROM jsonb_to_recordset(:verdicts::jsonb) AS v(job_id uuid, tokens integer, prompt_tokens integer, reason text, figures jsonb)
), job AS (
  SELECT j.id, j.attempts, j.business_id, j.status, j.completed_at, v.tokens, v.prompt_tokens, v.reason, v.figures,
         coalesce(m.model, 'unknown') AS model,
         extract(epoch FROM CASE WHEN j.status = 'completed' THEN j.completed_at ELSE now() END - j.claimed_at)::float8 AS seconds
  FROM verdict AS v
  -- Each job by its primary key, whatever the statistics say: joined as a set under
  -- `status IN ('completed', 'cancelled')`, the plan read every finished job through
  -- jobs_finished_idx whenever the statistics still counted few of them (after a busy
  -- spell, before autoanalyze): 12-20 ms a call at 20,000-50,000 finished jobs (bench
  -- scenario 3, 2026-12-05). LIMIT 1 keeps the lookup a subquery of its own, so the
  -- status test stays outside it and cannot pick that index.
  CROSS JOIN LATERAL (SELECT * FROM mia.jobs AS one WHERE one.id = v.job_id LIMIT 1) AS j
  JOIN mia.miners AS m ON m.id = j.miner_id
  WHERE j.miner_id = :miner_id AND j.status IN ('completed', 'cancelled')
), settled AS (
  UPDATE mia.jobs AS j
  SET tokens_generated = job.tokens,
      prompt_tokens = CASE WHEN job.status = 'completed' THEN job.prompt_tokens END
  FROM job
  -- The id list bounds the scan of mia.jobs to these rows (through jobs_pkey): joined only
  -- as a set, the ~100 rows a JSON array is assumed to hold made a sequential scan look
  -- cheaper on a table of a few thousand jobs.
  WHERE j.id = job.id AND j.id = ANY (ARRAY(SELECT id FROM job))
  RETURNING j.id, j.status, job.reason, job.tokens, job.seconds
), counted AS (
  UPDATE mia.miners AS m
  SET job_count = m.job_count + t.jobs,
      total_tokens_generated = m.total_tokens_generated + t.tokens,
      -- Moving average of per-job speed, so one odd job does not swing it.
      tokens_per_second = CASE WHEN t.rate IS NULL THEN m.tokens_per_second
                               WHEN m.tokens_per_second = 0 THEN t.rate
                               ELSE 0.8 * m.tokens_per_second + 0.2 * t.rate END,
      last_active = now()
  FROM (SELECT count(*) FILTER (WHERE reason IS NULL) AS jobs,
               coalesce(sum(tokens::bigint) FILTER (WHERE reason IS NULL), 0) AS tokens,
               avg(tokens / greatest(seconds, 0.001)) FILTER (WHERE reason IS NULL) AS rate,
               count(*) AS completed
        FROM settled WHERE status = 'completed') AS t
  WHERE m.id = :miner_id AND t.completed > 0
  RETURNING m.id
), usage AS (
  INSERT INTO mia.job_usage (job_id, attempt, business_id, miner_id, model, prompt_tokens, completion_tokens, completed_at)
  SELECT id, attempts, business_id, :miner_id, model, coalesce(prompt_tokens, 0), tokens, completed_at
  FROM job WHERE status = 'completed'
  ON CONFLICT (job_id, attempt) DO NOTHING
), suspected AS (
  INSERT INTO mia.miner_suspicions (miner_id, job_id, attempt, reason, figures)
  SELECT :miner_id, id, attempts, reason, coalesce(figures, '{}') FROM job WHERE reason IS NOT NULL
  ON CONFLICT (job_id, attempt, reason) WHERE job_id IS NOT NULL DO NOTHING
  RETURNING id
), credited AS (
  INSERT INTO mia.miner_credits (miner_id, kind, job_id, attempt, business_id, model, tokens, rate, seconds, credits)
  SELECT :miner_id, 'job', job.id, job.attempts, job.business_id, job.model, job.tokens, r.rate, job.seconds, job.tokens * r.rate
  FROM job CROSS JOIN LATERAL (SELECT mia.model_rate(job.model, job.completed_at) AS rate) AS r
  WHERE job.reason IS NULL
  ON CONFLICT (job_id, attempt) WHERE kind = 'job' DO NOTHING
  RETURNING credits
)
SELECT (SELECT count(*) FROM credited)::int AS jobs_credited,
       coalesce((SELECT sum(credits) FROM credited), 0)::float8 AS credits,
       (SELECT count(*) FROM suspected)::int AS suspicions,
       (SELECT count(*) FROM counted)::int AS miners_counted
