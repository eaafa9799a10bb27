-- Up Migration
-- Fairness between businesses (issue 8): among queued jobs of equal priority, the
-- claim takes them by fair_at, not by created_at. A job's fair_at is its submission
-- time, or — when its business already has jobs waiting — MIA_FAIR_SPACING_MS after
-- the latest of theirs (sql/job_create.sql). So a business's burst spreads out in
-- "virtual time" while another business's single job is placed at its own arrival:
-- businesses take turns, and within one business the order stays first come, first
-- served. Nothing is locked or counted for it: one index look-up per submission.
ALTER TABLE mia.jobs ADD COLUMN fair_at timestamptz NOT NULL DEFAULT now();
UPDATE mia.jobs SET fair_at = created_at WHERE status = 'queued';

-- The claim's index, now on fair_at (same name: EXPLAIN checks in tests and the bench look for it).
DROP INDEX mia.jobs_claim_idx;
CREATE INDEX jobs_claim_idx ON mia.jobs (priority, fair_at) WHERE status = 'queued';
-- The latest fair_at of a business's waiting jobs, read at each submission.
CREATE INDEX jobs_business_fair_idx ON mia.jobs (business_id, fair_at) WHERE status = 'queued';

COMMENT ON COLUMN mia.jobs.fair_at IS
  'Place in the claim order among equal priorities: submission time, or after the business''s latest waiting job (fair queueing).';

-- Down Migration
DROP INDEX mia.jobs_business_fair_idx;
DROP INDEX mia.jobs_claim_idx;
CREATE INDEX jobs_claim_idx ON mia.jobs (priority, created_at) WHERE status = 'queued';
ALTER TABLE mia.jobs DROP COLUMN fair_at;
