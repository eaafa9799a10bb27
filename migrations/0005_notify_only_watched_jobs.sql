-- Up Migration
-- Completion wake-ups only for jobs someone waits on.
--
-- Postgres serialises the commits of all transactions that sent a NOTIFY (one
-- cluster-wide lock, held until the commit is flushed). With a NOTIFY for every
-- finished job, job completion queued up behind that lock and capped the whole
-- queue's throughput (npm run bench, scenario 2: most samples of the complete
-- statement waited on Lock:object). Only a parked POST /chat, GET
-- /job/{id}/result?wait= or OpenAI-style call needs the wake-up; it sets
-- notify_on_finish (at submission, or via sql/job_watch.sql), and everyone else
-- learns the outcome by asking. Parked calls also re-check on the fallback poll.
ALTER TABLE mia.jobs ADD COLUMN notify_on_finish boolean NOT NULL DEFAULT false;

DROP TRIGGER jobs_finished_on_update ON mia.jobs;
CREATE TRIGGER jobs_finished_on_update AFTER UPDATE OF status ON mia.jobs
  FOR EACH ROW WHEN (
    NEW.notify_on_finish
    AND NEW.status IN ('completed', 'failed', 'cancelled')
    AND OLD.status IS DISTINCT FROM NEW.status
  )
  EXECUTE FUNCTION mia.notify_job_finished();

-- No query reads jobs by (business_id, created_at), and every status change of
-- a job writes an entry into each of its non-partial indexes.
DROP INDEX mia.jobs_business_idx;

-- Down Migration
CREATE INDEX jobs_business_idx ON mia.jobs (business_id, created_at);
DROP TRIGGER jobs_finished_on_update ON mia.jobs;
CREATE TRIGGER jobs_finished_on_update AFTER UPDATE OF status ON mia.jobs
  FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION mia.notify_job_finished();
ALTER TABLE mia.jobs DROP COLUMN notify_on_finish;
