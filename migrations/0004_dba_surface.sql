-- Up Migration
-- The DBA surface: views to see queue state and functions to repair it from
-- psql (docs/dba.md has examples). The definitions live here, in the migration,
-- and nowhere else: migrations are the schema's history, and a copy under sql/
-- would drift from what a database actually runs. `\dv+ mia.*` and
-- `\df+ mia.*` show the COMMENTs below. A later change to one of these objects
-- is a new migration with CREATE OR REPLACE.
--
-- Every repair goes through an ordinary UPDATE of mia.jobs, so the triggers of
-- 0001 and 0003 fire as for the API: a requeued job wakes long-polling miners
-- (NOTIFY mia_job_queued), a cancelled or failed one wakes waiting clients
-- (NOTIFY mia_job_finished) and queues its completion webhook.

CREATE VIEW mia.queue_summary AS
SELECT s.status,
       count(j.id) AS jobs,
       min(j.created_at) AS oldest_created_at,
       date_trunc('second', now() - min(j.created_at)) AS oldest_age
FROM (VALUES (1, 'queued'), (2, 'running'), (3, 'completed'), (4, 'failed'), (5, 'cancelled')) AS s (ord, status)
LEFT JOIN mia.jobs AS j ON j.status = s.status
GROUP BY s.ord, s.status
ORDER BY s.ord;
COMMENT ON VIEW mia.queue_summary IS
  'Jobs per status with the creation time and age of the oldest. Counts finished jobs too: a full scan on a large table.';

CREATE VIEW mia.stuck_jobs AS
SELECT j.id AS job_id,
       j.business_id,
       j.miner_id,
       m.name AS miner_name,
       m.status AS miner_status,
       m.last_active AS miner_last_active,
       j.attempts,
       j.max_attempts,
       j.claimed_at,
       j.lease_expires_at,
       date_trunc('second', now() - j.lease_expires_at) AS lease_overdue,
       CASE WHEN j.lease_expires_at < now() THEN 'lease_expired' ELSE 'miner_offline' END AS reason
FROM mia.jobs AS j
LEFT JOIN mia.miners AS m ON m.id = j.miner_id
WHERE j.status = 'running' AND (j.lease_expires_at < now() OR m.status = 'offline')
ORDER BY j.lease_expires_at;
COMMENT ON VIEW mia.stuck_jobs IS
  'Running jobs whose lease has expired or whose miner is marked offline. The maintenance worker requeues them within one interval; rows that stay here mean it is not running (see GET /health).';

CREATE VIEW mia.miner_summary AS
SELECT m.id AS miner_id,
       m.name,
       m.status,
       m.last_active,
       date_trunc('second', now() - m.last_active) AS silent_for,
       m.ip_address,
       m.gpu_name,
       m.model,
       m.slots,
       coalesce(r.running_jobs, 0) AS running_jobs,
       r.next_lease_expiry,
       m.job_count,
       m.total_tokens_generated,
       round(m.tokens_per_second::numeric, 1) AS tokens_per_second,
       m.created_at
FROM mia.miners AS m
LEFT JOIN (
  SELECT miner_id, count(*) AS running_jobs, min(lease_expires_at) AS next_lease_expiry
  FROM mia.jobs
  WHERE status = 'running'
  GROUP BY miner_id
) AS r ON r.miner_id = m.id
ORDER BY m.status, m.name;
COMMENT ON VIEW mia.miner_summary IS
  'Each miner with its status, silence, running jobs and counters.';

-- Percentiles of jobs completed in the last hour, per minute of completion.
-- queued_to_claimed is created_at -> claimed_at of the last (successful) claim,
-- so for a retried job it includes the earlier attempts.
CREATE VIEW mia.job_latency AS
SELECT date_trunc('minute', completed_at) AS minute,
       count(*) AS completed,
       coalesce(sum(tokens_generated), 0) AS tokens,
       round(percentile_cont(0.50) WITHIN GROUP (ORDER BY wait_ms)::numeric, 1) AS queued_to_claimed_p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY wait_ms)::numeric, 1) AS queued_to_claimed_p95_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY wait_ms)::numeric, 1) AS queued_to_claimed_p99_ms,
       round(percentile_cont(0.50) WITHIN GROUP (ORDER BY run_ms)::numeric, 1) AS claimed_to_completed_p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY run_ms)::numeric, 1) AS claimed_to_completed_p95_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY run_ms)::numeric, 1) AS claimed_to_completed_p99_ms
FROM (
  SELECT completed_at,
         tokens_generated,
         extract(epoch FROM claimed_at - created_at) * 1000 AS wait_ms,
         extract(epoch FROM completed_at - claimed_at) * 1000 AS run_ms
  FROM mia.jobs
  -- Served by jobs_finished_idx (0003).
  WHERE status = 'completed' AND completed_at > now() - interval '1 hour'
) AS done
GROUP BY 1
ORDER BY 1 DESC;
COMMENT ON VIEW mia.job_latency IS
  'Per minute of the last hour: jobs completed, tokens, and p50/p95/p99 of queued->claimed and claimed->completed, in ms.';

-- Put a job back in the queue: a stuck running job (the current holder's
-- result is then refused with 409), or a failed or cancelled one. A failed or
-- cancelled job gets its full max_attempts again; a running one keeps the
-- attempt it spent, but is left at least one more. A completed job is never
-- requeued: its answer has been delivered.
CREATE FUNCTION mia.requeue_job(job_id uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  current_status text;
BEGIN
  UPDATE mia.jobs
  SET status = 'queued',
      attempts = CASE WHEN status = 'running' THEN least(attempts, max_attempts - 1) ELSE 0 END,
      miner_id = NULL, lease_token = NULL, lease_expires_at = NULL,
      run_after = now(), error = NULL, completed_at = NULL
  WHERE id = requeue_job.job_id AND status IN ('running', 'failed', 'cancelled');
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT status INTO current_status FROM mia.jobs WHERE id = requeue_job.job_id;
  RAISE NOTICE 'job % not requeued: %', requeue_job.job_id, coalesce('it is ' || current_status, 'no such job');
  RETURN false;
END $$;
COMMENT ON FUNCTION mia.requeue_job(uuid) IS
  'Requeue a running (stuck), failed or cancelled job; wakes waiting miners. Returns false (with a NOTICE) if nothing changed.';

CREATE FUNCTION mia.cancel_job(job_id uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  current_status text;
BEGIN
  UPDATE mia.jobs
  SET status = 'cancelled', completed_at = now(), lease_expires_at = NULL, error = 'cancelled by a DBA'
  WHERE id = cancel_job.job_id AND status IN ('queued', 'running');
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT status INTO current_status FROM mia.jobs WHERE id = cancel_job.job_id;
  RAISE NOTICE 'job % not cancelled: %', cancel_job.job_id, coalesce('it is ' || current_status, 'no such job');
  RETURN false;
END $$;
COMMENT ON FUNCTION mia.cancel_job(uuid) IS
  'Cancel a queued or running job; a late result of its miner is refused (409). Returns false (with a NOTICE) if nothing changed.';

CREATE FUNCTION mia.fail_job(job_id uuid, reason text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  current_status text;
BEGIN
  UPDATE mia.jobs
  SET status = 'failed', completed_at = now(), lease_expires_at = NULL,
      error = coalesce(nullif(fail_job.reason, ''), 'failed by a DBA')
  WHERE id = fail_job.job_id AND status IN ('queued', 'running');
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT status INTO current_status FROM mia.jobs WHERE id = fail_job.job_id;
  RAISE NOTICE 'job % not failed: %', fail_job.job_id, coalesce('it is ' || current_status, 'no such job');
  RETURN false;
END $$;
COMMENT ON FUNCTION mia.fail_job(uuid, text) IS
  'Move a queued or running job to the dead-letter state (failed) with the given error. Returns false (with a NOTICE) if nothing changed.';

-- Down Migration
DROP FUNCTION mia.fail_job(uuid, text);
DROP FUNCTION mia.cancel_job(uuid);
DROP FUNCTION mia.requeue_job(uuid);
DROP VIEW mia.job_latency;
DROP VIEW mia.miner_summary;
DROP VIEW mia.stuck_jobs;
DROP VIEW mia.queue_summary;
