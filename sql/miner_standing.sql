-- The miner's standing, read by a claim (GET /job/next, /jobs/next) that got nothing,
-- before it answers 403 or parks (api/credits/claimGuard.ts):
--  * suspended, or held (mia.miner_held, migrations 0090 and 0180): registered from the
--    address of a miner that was suspended before it registered and within :hold_hours,
--    and not reinstated by the operator since; a suspended miner cannot take jobs again
--    under a new name. Reinstating the suspended miner lifts the hold too (its
--    suspended_at is cleared). :hold_hours 0 holds nobody. The claim itself gives such a
--    miner nothing, so this read is needed only when a claim came back empty;
--  * room: the jobs it may still take, as the claim counts them (its slots, or
--    :probation_slots on probation, minus its running jobs), so a miner asking for 100
--    parks for what it can get, not 100 slots of a dispatch round.
SELECT m.suspended_at, m.suspended_reason,
       mia.miner_held(m.id, :hold_hours::int) AS held,
       (CASE WHEN mia.on_probation(m.id, :probation_jobs::int) THEN least(m.slots, :probation_slots::int) ELSE m.slots END
        - (SELECT count(*) FROM mia.jobs AS r WHERE r.miner_id = m.id AND r.status = 'running'))::int AS room
FROM mia.miners AS m
WHERE m.id = :miner_id
