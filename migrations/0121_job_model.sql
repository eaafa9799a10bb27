-- Up Migration
-- Jobs name a model (issue 17, SPEC §3): `model` on POST /chat and /v1/chat/completions,
-- else MIA_DEFAULT_MODEL. The claim (sql/job_claim.sql) gives a job that names one only
-- to a miner serving it (miners.model); NULL ('any', 'mia', and jobs from before) goes
-- to any miner.
ALTER TABLE mia.jobs ADD COLUMN model text;

COMMENT ON COLUMN mia.jobs.model IS
  'The model the job must run on (miners.model); NULL: any miner.';

-- Down Migration
ALTER TABLE mia.jobs DROP COLUMN model;
