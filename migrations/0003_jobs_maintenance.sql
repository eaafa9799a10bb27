-- Up Migration
-- What the maintenance tasks (api/maintenance/) need from mia.jobs.

-- mia.jobs is the hot queue table: every job is inserted, updated two or three
-- times (claim, lease extensions, result) and later deleted by the purge, so it
-- produces dead tuples much faster than an ordinary table. With the default
-- scale factor (0.2) a table that keeps 1M finished rows waits for 200k dead
-- tuples before a vacuum; meanwhile the partial claim index (jobs_claim_idx)
-- fills with entries of rows that are no longer queued and every claim has to
-- step over them. Vacuum after 1% (plus 1000 rows) instead, let each run do more
-- work before it naps, and re-ANALYZE often so the planner's picture of the
-- status mix (a few queued rows, many finished ones) stays current.
ALTER TABLE mia.jobs SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_limit = 2000
);

-- The purge (sql/job_purge_finished.sql) and the mia.job_latency view read
-- finished jobs by completion time; the index holds only finished rows.
CREATE INDEX jobs_finished_idx ON mia.jobs (completed_at)
  WHERE status IN ('completed', 'failed', 'cancelled');

-- Completion webhooks are queued by a trigger, in the same transaction that
-- finishes the job: a committed result always gets its webhook, and a rolled
-- back one never does, whichever path (API, reaper, psql) finished it.
-- graphile_worker.add_job is resolved when the trigger runs; api/db/migrate.ts
-- installs graphile-worker's schema right after these migrations. The job key
-- makes a job that finishes again (requeued by a DBA, then completed) replace a
-- delivery still waiting with the newer one. max_attempts is an upper bound;
-- the task stops earlier at MIA_WEBHOOK_MAX_ATTEMPTS.
CREATE FUNCTION mia.enqueue_job_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.add_job(
    'mia.webhook_send',
    json_build_object('job_id', NEW.id),
    max_attempts => 25,
    job_key => 'mia.webhook_send:' || NEW.id::text
  );
  RETURN NULL;
END $$;

-- The WHEN clause keeps jobs without a callback_url (and the hot claim UPDATE)
-- from calling any function.
CREATE TRIGGER jobs_webhook_on_finish AFTER UPDATE OF status ON mia.jobs
  FOR EACH ROW WHEN (
    NEW.callback_url IS NOT NULL
    AND NEW.status IN ('completed', 'failed', 'cancelled')
    AND OLD.status IS DISTINCT FROM NEW.status
  )
  EXECUTE FUNCTION mia.enqueue_job_webhook();

-- Down Migration
DROP TRIGGER jobs_webhook_on_finish ON mia.jobs;
DROP FUNCTION mia.enqueue_job_webhook();
DROP INDEX mia.jobs_finished_idx;
ALTER TABLE mia.jobs RESET (
  autovacuum_vacuum_scale_factor,
  autovacuum_vacuum_threshold,
  autovacuum_vacuum_insert_scale_factor,
  autovacuum_analyze_scale_factor,
  autovacuum_vacuum_cost_limit
);
