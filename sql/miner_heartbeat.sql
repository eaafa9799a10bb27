-- The miner's part of a status report, after sql/miner_heartbeat_jobs.sql in the same
-- transaction (lock order: jobs, then the miner). Marks it active with its status.
UPDATE mia.miners
-- A reason is kept only while the status it explains lasts.
SET status = :status, status_reason = :reason, last_active = now()
WHERE id = :miner_id
RETURNING status
