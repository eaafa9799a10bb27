-- A status report is also a heartbeat: it marks the miner active and pushes
-- the lease of each job it runs to now + that job's lease length, never shortening one.
WITH miner AS (
  UPDATE mia.miners
  -- A reason is kept only while the status it explains lasts.
  SET status = :status, status_reason = :reason, last_active = now()
  WHERE id = :miner_id
  RETURNING id, status
), leases AS (
  UPDATE mia.jobs
  SET lease_expires_at = greatest(
        lease_expires_at,
        now() + make_interval(secs => :lease_base_s::double precision + max_tokens * :lease_ms_per_token::double precision / 1000.0))
  WHERE miner_id = :miner_id AND status = 'running'
  RETURNING id
)
SELECT miner.status, (SELECT count(*) FROM leases) AS leases_extended
FROM miner
