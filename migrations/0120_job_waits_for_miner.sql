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

-- sql/job_fail_unroutable.sql reads the queued jobs that may fail fast, biggest need
-- first, down to the largest context online: a range of this index, however deep the
-- queue (the jobs that fit are never read).
CREATE INDEX jobs_unroutable_idx ON mia.jobs (need_tokens DESC)
  WHERE status = 'queued' AND NOT waits_for_miner AND need_tokens IS NOT NULL;

-- Down Migration
DROP INDEX mia.jobs_unroutable_idx;
ALTER TABLE mia.jobs DROP COLUMN waits_for_miner;
