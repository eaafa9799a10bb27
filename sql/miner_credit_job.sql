-- Credit (or suspect) the work of accepted results, in the transaction that
-- accepted them. :verdicts is a JSON array of {job_id, tokens, reason, figures}:
-- reason NULL = believable, credited tokens × the model's rate; otherwise a
-- suspicion and no credit. Completed jobs also get their usage row (the
-- business received the answer either way). Keyed by (job_id, attempt): a
-- job attempt is credited and suspected at most once (unique indexes).
-- Reads jobs and miners without locking them (lock order: jobs before miners).
WITH verdict AS (
  SELECT *
  FROM jsonb_to_recordset(:verdicts::jsonb) AS v(job_id uuid, tokens integer, reason text, figures jsonb)
), job AS (
  SELECT j.id, j.attempts, j.business_id, j.status, j.prompt_tokens, j.completed_at, v.tokens, v.reason, v.figures,
         coalesce(m.model, 'unknown') AS model,
         extract(epoch FROM CASE WHEN j.status = 'completed' THEN j.completed_at ELSE now() END - j.claimed_at)::float8 AS seconds
  FROM verdict AS v
  JOIN mia.jobs AS j ON j.id = v.job_id AND j.miner_id = :miner_id
  JOIN mia.miners AS m ON m.id = j.miner_id
  WHERE j.status IN ('completed', 'cancelled')
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
       (SELECT count(*) FROM suspected)::int AS suspicions
