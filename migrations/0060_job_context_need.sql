-- Up Migration
-- Routing by context (issue 8): a job goes only to a miner whose llama-server context
-- (per slot, registered as miners.context_length, read from llama-server's /props)
-- holds its prompt and its answer. need_tokens is estimated at submit
-- (api/jobs/contextNeed.ts); NULL (jobs from before) fits anywhere.
ALTER TABLE mia.jobs ADD COLUMN need_tokens integer CHECK (need_tokens IS NULL OR need_tokens >= 0);

COMMENT ON COLUMN mia.jobs.need_tokens IS
  'Estimated prompt tokens + max_tokens; the claim gives the job only to a miner with context_length >= this.';

-- Down Migration
ALTER TABLE mia.jobs DROP COLUMN need_tokens;
