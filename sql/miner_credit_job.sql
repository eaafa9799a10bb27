-- Settle, credit (or suspect) work on jobs the business cancelled while this miner held
-- them (sql/job_record_cancelled_work.sql), in the transaction of the miner's result.
-- Completed jobs are settled and credited by their completion (sql/job_complete.sql),
-- which writes the ledger through the same function (mia.credit_work, migration 0193). :verdicts is a JSON array of
-- {job_id, tokens, prompt_tokens, reason, figures}: the tokens the backend accepts (0 for
-- a suspected result: it bills nothing and counts nothing) and reason NULL =
-- believable, credited tokens × the model's rate; otherwise a suspicion and no credit.
-- The accepted figures become the job's tokens_generated/prompt_tokens (what the business
-- sees), its usage row (what it pays) and the miner's public counters. Keyed by
-- (job_id, attempt): a job attempt is credited and suspected at most once (unique indexes).
-- Lock order (sql/LOCK_ORDER.md): the jobs are updated in `settled`, the miner row after
-- them in mia.credit_work, which `ledger` calls with what `settled` wrote.
WITH verdict AS (
  SELECT *
  FROM jsonb_to_recordset(:verdicts::jsonb) AS v(job_id uuid, tokens integer, prompt_tokens integer, reason text, figures jsonb)
), job AS (
  SELECT j.id, j.attempts, j.business_id, j.status, j.completed_at, v.tokens, v.prompt_tokens, v.reason, v.figures,
         extract(epoch FROM CASE WHEN j.status = 'completed' THEN j.completed_at ELSE now() END - j.claimed_at)::float8 AS seconds
  FROM verdict AS v
  -- Each job by its primary key, whatever the statistics say: joined as a set under
  -- `status IN ('completed', 'cancelled')`, the plan read every finished job through
  -- jobs_finished_idx whenever the statistics still counted few of them (after a busy
  -- spell, before autoanalyze): 12-20 ms a call at 20,000-50,000 finished jobs (bench
  -- scenario 3, 2026-12-05). LIMIT 1 keeps the lookup a subquery of its own, so the
  -- status test stays outside it and cannot pick that index.
  CROSS JOIN LATERAL (SELECT * FROM mia.jobs AS one WHERE one.id = v.job_id LIMIT 1) AS j
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
), ledger AS MATERIALIZED (
  -- The counters, usage row, credit or suspicion of each settled job (mia.credit_work,
  -- migration 0193, as for completed jobs), after `settled`: its argument reads `settled`.
  SELECT mia.credit_work(:miner_id, (
    SELECT jsonb_agg(jsonb_build_object(
             'job_id', s.id, 'attempt', job.attempts, 'business_id', job.business_id, 'status', s.status,
             'completed_at', job.completed_at, 'seconds', s.seconds, 'tokens', s.tokens,
             'prompt_tokens', job.prompt_tokens, 'reason', s.reason, 'figures', job.figures))
    FROM settled AS s JOIN job ON job.id = s.id)) AS suspicions
)
SELECT suspicions FROM ledger
