-- Up Migration
-- Routing that never strands a job (issue 17, item 5). A job too big for every online
-- miner fails fast with no_capable_miner (api/maintenance/unroutableJobs.ts) unless the
-- business asked to wait (POST /chat `queue_timeout`, X-Mia-Wait-For-Miner: true,
-- MIA_OPENAI_WAIT_FOR_MINER): such jobs keep waiting for a bigger miner or their queue
-- deadline. Jobs from before this migration keep the old behaviour (they wait).
ALTER TABLE mia.jobs ADD COLUMN waits_for_miner boolean NOT NULL DEFAULT true;
ALTER TABLE mia.jobs ALTER COLUMN waits_for_miner SET DEFAULT false;

COMMENT ON COLUMN mia.jobs.waits_for_miner IS
  'The business asked to wait for a capable miner: no_capable_miner never fails this job (its queue deadline still does).';

-- The index that serves it is created with jobs.model (migration 0122).

-- Down Migration
ALTER TABLE mia.jobs DROP COLUMN waits_for_miner;
