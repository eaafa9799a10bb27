-- Up Migration
-- Failing unroutable jobs fast (issue 17) without reading the queue.
--
-- sql/job_fail_unroutable.sql reads the queued jobs for any model that may fail fast,
-- biggest need first, down to the largest context online: a range of jobs_unroutable_idx,
-- however deep the queue (the jobs that fit are never read).
CREATE INDEX jobs_unroutable_idx ON mia.jobs (need_tokens DESC)
  WHERE status = 'queued' AND NOT waits_for_miner AND need_tokens IS NOT NULL AND model IS NULL;

-- sql/job_fail_unroutable_model.sql does the same for jobs that name a model: it walks
-- their distinct models down jobs_unroutable_model_idx (a loose index scan: one probe per
-- model), then reads only each model's jobs above its largest context online (0 when no
-- online miner serves it). Disjoint from the index above (model IS NULL there), so the
-- planner cannot take the one for the other.
CREATE INDEX jobs_unroutable_model_idx ON mia.jobs (model, need_tokens DESC)
  WHERE status = 'queued' AND NOT waits_for_miner AND model IS NOT NULL;

-- Down Migration
DROP INDEX mia.jobs_unroutable_model_idx;
DROP INDEX mia.jobs_unroutable_idx;
