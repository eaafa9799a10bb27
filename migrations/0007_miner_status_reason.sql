-- Up Migration
-- Why a miner says it is offline or draining (e.g. "llama-server crash loop:
-- exited with code 1 …"), so an operator sees it in GET /miners and
-- mia.miner_summary instead of only in the miner's own log.
ALTER TABLE mia.miners ADD COLUMN status_reason text;

-- The DBA view shows it too (a new last column, as CREATE OR REPLACE VIEW requires).
CREATE OR REPLACE VIEW mia.miner_summary AS
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
       m.created_at,
       m.status_reason
FROM mia.miners AS m
LEFT JOIN (
  SELECT miner_id, count(*) AS running_jobs, min(lease_expires_at) AS next_lease_expiry
  FROM mia.jobs
  WHERE status = 'running'
  GROUP BY miner_id
) AS r ON r.miner_id = m.id
ORDER BY m.status, m.name;

-- Down Migration
CREATE OR REPLACE VIEW mia.miner_summary AS
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
ALTER TABLE mia.miners DROP COLUMN status_reason;
