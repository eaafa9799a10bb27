-- Up Migration
-- Issue 21 items 2 and 3 (README "Proof of work: canaries", "Pools"): canary jobs with
-- known answers prove that a miner runs the model it claims; a business may restrict its
-- jobs to verified miners, to miners the operator trusts, or to its own miners.

-- Operator's mark (PUT /miners/{id}/trust): its canary answers are the reference, and it
-- may take the jobs of 'trusted' (and 'verified') businesses. Not trusted_at (migration
-- 0040), which only ends credit escrow after a track record: a track record of answers
-- nobody checked proves nothing about the model, so this mark is the operator's alone.
ALTER TABLE mia.miners
  ADD COLUMN operator_trusted boolean NOT NULL DEFAULT false,
  -- Registered with a business's enrolment token (mia_et_…): one of that business's own miners.
  ADD COLUMN owner_business_id uuid REFERENCES mia.businesses (id) ON DELETE SET NULL;
COMMENT ON COLUMN mia.miners.operator_trusted IS 'Marked trusted by the operator: reference for canaries, eligible for trusted and verified pools.';
COMMENT ON COLUMN mia.miners.owner_business_id IS 'The business whose enrolment token registered this miner (its own miner, pool ''own'').';

ALTER TABLE mia.businesses
  ADD COLUMN miner_pool text NOT NULL DEFAULT 'open' CHECK (miner_pool IN ('open', 'verified', 'trusted', 'own')),
  -- Operator-owned businesses under which canary jobs are submitted (api/trust/canaries.ts).
  ADD COLUMN canary boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN mia.businesses.miner_pool IS 'Which miners may take this business''s jobs: open (any), verified, trusted, own. Copied onto each job at submit (jobs.pool).';

-- Business-scoped enrolment tokens (POST /businesses/{id}/enrolment_tokens), sha256 at rest.
CREATE TABLE mia.business_enrolment_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id uuid NOT NULL REFERENCES mia.businesses (id) ON DELETE CASCADE,
  token_hash  text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The pool a job is restricted to, copied from its business at submit so the claim reads
-- it from the job row it already has (no join per scanned row): NULL = open, 'verified',
-- 'trusted', or 'own:<business id>'. A miner qualifies through a key of the same form
-- (sql/job_claim.sql), so the claim's filter is one array membership test.
ALTER TABLE mia.jobs
  ADD COLUMN pool text,
  -- Index into api/trust/canaryPrompts.ts for a canary job; NULL for a real one. Never
  -- returned to a miner: a canary is claimed exactly like any job.
  ADD COLUMN canary_prompt smallint;
-- Restricted jobs waiting, by pool in claim order: the claim's pick of a pool's head
-- (sql/job_claim.sql, picked_pool) and the fail-fast of sql/job_fail_unpooled.sql.
CREATE INDEX jobs_pool_claim_idx ON mia.jobs (pool, priority, fair_at) WHERE status = 'queued' AND pool IS NOT NULL;
-- Canaries waiting, per model, for the canary task's top-up (sql/canary_demand.sql).
CREATE INDEX jobs_canary_queued_idx ON mia.jobs (model) WHERE status = 'queued' AND canary_prompt IS NOT NULL;

-- Canary results per miner and model: `verified` after MIA_CANARY_VERIFY_COUNT passes in
-- a row (a failure starts the count again).
CREATE TABLE mia.miner_verifications (
  miner_id    uuid NOT NULL REFERENCES mia.miners (id) ON DELETE CASCADE,
  model       text NOT NULL,
  passed      integer NOT NULL DEFAULT 0,
  failed      integer NOT NULL DEFAULT 0,
  -- Passes since the last failure.
  streak      integer NOT NULL DEFAULT 0,
  verified_at timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (miner_id, model)
);

-- The known answers: (model, prompt, max_tokens) → text, from a trusted miner or from
-- the agreement of MIA_CANARY_AGREEMENT independent miners.
CREATE TABLE mia.canary_expectations (
  model          text NOT NULL,
  prompt_index   smallint NOT NULL,
  max_tokens     integer NOT NULL,
  expected       text NOT NULL,
  source         text NOT NULL CHECK (source IN ('trusted', 'agreement')),
  established_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, prompt_index, max_tokens)
);

-- Every canary answer and its verdict; 'pending' while no expectation exists.
CREATE TABLE mia.canary_answers (
  job_id       uuid NOT NULL,
  attempt      integer NOT NULL,
  miner_id     uuid NOT NULL REFERENCES mia.miners (id) ON DELETE CASCADE,
  model        text NOT NULL,
  prompt_index smallint NOT NULL,
  max_tokens   integer NOT NULL,
  output       text NOT NULL,
  verdict      text NOT NULL CHECK (verdict IN ('pass', 'fail', 'pending', 'reference')),
  agreed_chars integer,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX canary_answers_pending_idx ON mia.canary_answers (model, prompt_index, max_tokens) WHERE verdict = 'pending';

ALTER TABLE mia.miner_suspicions DROP CONSTRAINT miner_suspicions_reason_check;
ALTER TABLE mia.miner_suspicions ADD CONSTRAINT miner_suspicions_reason_check
  CHECK (reason IN ('tokens_implausible', 'too_fast', 'prompt_tokens_implausible',
                    'abort_rate', 'refusal_rate', 'stream_contradicted', 'contact_guardrail',
                    'canary_mismatch'));

-- Down Migration
DELETE FROM mia.miner_suspicions WHERE reason = 'canary_mismatch';
ALTER TABLE mia.miner_suspicions DROP CONSTRAINT miner_suspicions_reason_check;
ALTER TABLE mia.miner_suspicions ADD CONSTRAINT miner_suspicions_reason_check
  CHECK (reason IN ('tokens_implausible', 'too_fast', 'prompt_tokens_implausible',
                    'abort_rate', 'refusal_rate', 'stream_contradicted', 'contact_guardrail'));
DROP TABLE mia.canary_answers;
DROP TABLE mia.canary_expectations;
DROP TABLE mia.miner_verifications;
DROP INDEX mia.jobs_canary_queued_idx;
DROP INDEX mia.jobs_pool_claim_idx;
ALTER TABLE mia.jobs DROP COLUMN canary_prompt, DROP COLUMN pool;
DROP TABLE mia.business_enrolment_tokens;
ALTER TABLE mia.businesses DROP COLUMN canary, DROP COLUMN miner_pool;
ALTER TABLE mia.miners DROP COLUMN owner_business_id, DROP COLUMN operator_trusted;
