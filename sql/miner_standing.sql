-- The miner's standing, read by every claim (GET /job/next, /jobs/next) before it
-- claims or parks:
--  * suspended, or held (migration 0090): registered from the address of a miner that
--    was suspended before it registered and within :hold_hours, and not reinstated by
--    the operator since; a suspended miner cannot take jobs again under a new name.
--    Reinstating the suspended miner lifts the hold too (its suspended_at is cleared).
--    Served by miners_suspended_from_idx; :hold_hours 0 holds nobody;
--  * room: the jobs it may still take, as sql/job_claim.sql counts them (its slots, or
--    :probation_slots on probation, minus its running jobs), so a miner asking for 100
--    parks for what it can get, not 100 slots of a dispatch round.
-- It also takes the miner's claim lock (the key of sql/miner_claim_lock.sql), so the claim
-- route's transaction is standing, then claim (api/credits/claimGuard.ts): one round trip
-- and one transaction fewer per claim than a standing read before a lock-and-claim
-- transaction. Run alone (the re-check after a parked claim) the lock ends with the statement.
-- Like the lock statement it sets generic plans and an unflushed commit for the rest of
-- the claim's transaction (why: sql/miner_claim_lock.sql).
WITH claim_lock AS MATERIALIZED (
  SELECT count(*) AS n,
         set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode,
         set_config('synchronous_commit', 'off', true) AS synchronous_commit
  FROM (SELECT pg_advisory_xact_lock(hashtextextended(:miner_id::uuid::text, 17))) AS taken
)
SELECT m.suspended_at, m.suspended_reason,
       EXISTS (SELECT 1 FROM mia.miners AS s
               WHERE s.registered_from = m.registered_from AND s.suspended_at IS NOT NULL AND s.id <> m.id
                 AND s.suspended_at > now() - make_interval(hours => :hold_hours::int)
                 AND s.suspended_at < m.created_at
                 AND (m.reinstated_at IS NULL OR m.reinstated_at < s.suspended_at)) AS held,
       (CASE WHEN mia.on_probation(m.id, :probation_jobs::int) THEN least(m.slots, :probation_slots::int) ELSE m.slots END
        - (SELECT count(*) FROM mia.jobs AS r WHERE r.miner_id = m.id AND r.status = 'running'))::int AS room
FROM mia.miners AS m, claim_lock
WHERE m.id = :miner_id
