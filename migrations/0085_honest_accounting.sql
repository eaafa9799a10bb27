-- Up Migration
-- The backend's own accounting (issue 16, README "Usage and budgets" and "What
-- miners earn"): what a business pays, what a job shows and what a miner's
-- public counters say are figures the backend can stand behind, not a miner's
-- word; budgets are reserved at submit so concurrent chats cannot overrun them.

-- A miner's claims are kept beside the figures the backend accepted: the
-- result's token counts as reported (for duplicate detection and audits), and
-- tokens_generated / prompt_tokens become what was accepted (0 when the result
-- drew a suspicion). Jobs finished before this migration keep what they had.
ALTER TABLE mia.jobs
  ADD COLUMN tokens_reported        integer,
  ADD COLUMN prompt_tokens_reported integer,
  -- Tokens this job holds of its business's monthly budget while it is queued or
  -- running (0 when the business had no budget at submit): the prompt bound
  -- (api/credits/plausibility.ts promptTokenBound) + max_tokens, the most the job
  -- can ever be billed.
  ADD COLUMN reserved_tokens        integer NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0);
UPDATE mia.jobs SET tokens_reported = tokens_generated, prompt_tokens_reported = prompt_tokens
WHERE tokens_generated IS NOT NULL OR prompt_tokens IS NOT NULL;

-- Sum of reserved_tokens over the business's queued and running jobs, kept by
-- the trigger below (mia.usage_discrepancies() checks it).
ALTER TABLE mia.businesses ADD COLUMN reserved_tokens bigint NOT NULL DEFAULT 0;

-- The operator's model table: what the plausibility bounds know about a model
-- file name. The name is the miner's word; these facts are the operator's.
-- A model not listed gets the strict bounds (answer bytes; no hidden reasoning).
CREATE TABLE mia.model_profiles (
  model               text PRIMARY KEY CHECK (length(model) BETWEEN 1 AND 500),
  -- Thinks before answering and drops the thinking from the answer (Qwen3, QwQ,
  -- DeepSeek-R1, GPT-OSS): completion tokens are then bounded by max_tokens only.
  hidden_reasoning    boolean NOT NULL DEFAULT false,
  -- Parameters in billions, for the too_fast ceiling (20,000 / billions tok/s).
  parameters_billions numeric CHECK (parameters_billions IS NULL OR parameters_billions > 0),
  reason              text,
  updated_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mia.model_profiles IS
  'Operator facts about models (PUT /models/{model}/profile): hidden reasoning and size, for the plausibility bounds.';

-- Budgets sum a business's month: let the sum read the index alone.
DROP INDEX mia.job_usage_business_idx;
CREATE INDEX job_usage_business_idx ON mia.job_usage (business_id, completed_at) INCLUDE (prompt_tokens, completion_tokens);

-- A job's reservation leaves its business when the job reaches a final state
-- (and comes back if the operator requeues it). Lock order: this runs while the
-- job row is locked and then locks the business row (jobs before businesses);
-- the one statement that locks a business first (sql/business_budget_lock.sql,
-- at submit) only inserts new jobs afterwards, which waits on no job row.
CREATE FUNCTION mia.settle_job_reservation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE mia.businesses SET reserved_tokens = reserved_tokens - OLD.reserved_tokens WHERE id = OLD.business_id;
  ELSIF NEW.status IN ('queued', 'running') THEN
    UPDATE mia.businesses SET reserved_tokens = reserved_tokens + NEW.reserved_tokens WHERE id = NEW.business_id;
  ELSE
    UPDATE mia.businesses SET reserved_tokens = reserved_tokens - NEW.reserved_tokens WHERE id = NEW.business_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_settle_reservation AFTER UPDATE OF status ON mia.jobs
  FOR EACH ROW WHEN (
    NEW.reserved_tokens > 0
    AND (OLD.status IN ('queued', 'running')) <> (NEW.status IN ('queued', 'running'))
  )
  EXECUTE FUNCTION mia.settle_job_reservation();

CREATE TRIGGER jobs_release_reservation_on_delete AFTER DELETE ON mia.jobs
  FOR EACH ROW WHEN (OLD.reserved_tokens > 0 AND OLD.status IN ('queued', 'running'))
  EXECUTE FUNCTION mia.settle_job_reservation();

-- The accounting's invariants, checked in SQL; no rows = consistent.
--  * usage_vs_ledger: every usage row of a job still in mia.jobs bills exactly
--    the completion tokens the ledger credited for that attempt (0 when the
--    attempt was suspected and credited nothing), and the job shows the same.
--  * reservation: a business's reserved_tokens equals the reservations of its
--    queued and running jobs.
CREATE FUNCTION mia.usage_discrepancies()
RETURNS TABLE (check_name text, business_id uuid, job_id uuid, expected bigint, actual bigint)
LANGUAGE sql STABLE AS $$
  SELECT 'usage_vs_ledger', u.business_id, u.job_id,
         coalesce(c.tokens, 0)::bigint, u.completion_tokens::bigint
  FROM mia.job_usage AS u
  JOIN mia.jobs AS j ON j.id = u.job_id
  LEFT JOIN mia.miner_credits AS c ON c.kind = 'job' AND c.job_id = u.job_id AND c.attempt = u.attempt
  WHERE u.completion_tokens <> coalesce(c.tokens, 0)
  UNION ALL
  SELECT 'job_vs_usage', u.business_id, u.job_id, u.completion_tokens::bigint, coalesce(j.tokens_generated, 0)::bigint
  FROM mia.job_usage AS u
  JOIN mia.jobs AS j ON j.id = u.job_id AND j.attempts = u.attempt AND j.status = 'completed'
  WHERE u.completion_tokens <> coalesce(j.tokens_generated, 0)
     OR u.prompt_tokens <> coalesce(j.prompt_tokens, 0)
  UNION ALL
  SELECT 'reservation', b.id, NULL::uuid, coalesce(r.reserved, 0)::bigint, b.reserved_tokens
  FROM mia.businesses AS b
  LEFT JOIN LATERAL (
    SELECT sum(j.reserved_tokens) AS reserved FROM mia.jobs AS j
    WHERE j.business_id = b.id AND j.status IN ('queued', 'running')
  ) AS r ON true
  WHERE b.reserved_tokens <> coalesce(r.reserved, 0)
$$;
COMMENT ON FUNCTION mia.usage_discrepancies() IS
  'Usage rows that bill other than the ledger credited (or the job shows), and businesses whose reserved_tokens drifted from their open jobs; no rows = consistent.';

-- Down Migration
DROP FUNCTION mia.usage_discrepancies();
DROP TRIGGER jobs_release_reservation_on_delete ON mia.jobs;
DROP TRIGGER jobs_settle_reservation ON mia.jobs;
DROP FUNCTION mia.settle_job_reservation();
DROP INDEX mia.job_usage_business_idx;
CREATE INDEX job_usage_business_idx ON mia.job_usage (business_id, completed_at);
DROP TABLE mia.model_profiles;
ALTER TABLE mia.businesses DROP COLUMN reserved_tokens;
ALTER TABLE mia.jobs DROP COLUMN tokens_reported, DROP COLUMN prompt_tokens_reported, DROP COLUMN reserved_tokens;
