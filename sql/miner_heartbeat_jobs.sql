-- A status report is also the heartbeat of the jobs the miner names (first statement of
-- the report's transaction). Leases are per job:
--  * the jobs in :running (their lease tokens) get their lease pushed to now + that job's
--    lease length, never shortened and never past the lease's maximum age;
--  * the miner's other running jobs were dropped by it (it gave up, crashed and restarted,
--    or never meant to run them): given back by mia.job_give_back (migration 0100): to the
--    queue, the attempt counted (free for a miner on probation), or to 'failed' once
--    max_attempts is used. Jobs claimed within :claim_grace_s are spared:
--    a claim may have been answered after the miner built this report;
--  * the tokens in :running that are not a running lease of this miner any more (the job
--    was cancelled, reaped, requeued or finished) come back as leases_lost: the miner
--    stops generating them (a cancel reaches a miner within one heartbeat).
-- Lock order (sql/LOCK_ORDER.md): the miner's running jobs, by id; sql/miner_heartbeat.sql
-- then updates the miner in the same transaction. (One statement with both as CTEs did not
-- keep that order: Postgres updated the miner row first and deadlocked with results.)
-- By id: a scan in index order (lease_expires_at, which this very statement moves) would
-- lock them in a different order in two concurrent heartbeats, and deadlock.
WITH held AS (
  SELECT id, lease_token AS held_token, lease_token = ANY (:running::uuid[]) AS named,
         claimed_at < now() - make_interval(secs => :claim_grace_s::double precision) AS settled
  FROM mia.jobs
  WHERE miner_id = :miner_id AND status = 'running'
  ORDER BY id
  FOR UPDATE
), kept AS (
  UPDATE mia.jobs
  SET lease_expires_at = least(
        greatest(
          lease_expires_at,
          now() + make_interval(secs => :lease_base_s::double precision + max_tokens * :lease_ms_per_token::double precision / 1000.0)),
        claimed_at + make_interval(secs => :lease_max_s::double precision))
  FROM held
  WHERE mia.jobs.id = held.id AND held.named
  RETURNING mia.jobs.id
), dropped AS (
  -- The one give-back transition (mia.job_give_back, migration 0100).
  SELECT g.job_id
  FROM mia.job_give_back(ARRAY(SELECT id FROM held WHERE NOT named AND settled),
                         ARRAY['dropped by its miner (not in its heartbeat)'], 0) AS g
), lost AS (
  SELECT coalesce(array_agg(t.token), '{}') AS tokens
  FROM unnest(:running::uuid[]) AS t(token)
  WHERE NOT EXISTS (SELECT 1 FROM held WHERE held.held_token = t.token)
)
SELECT (SELECT count(*) FROM kept)::int AS leases_extended, (SELECT count(*) FROM dropped)::int AS jobs_released,
       (SELECT tokens FROM lost)::text[] AS leases_lost
