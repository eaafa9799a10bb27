-- Is the miner suspended, or held? Read by every claim (GET /job/next, /jobs/next).
-- Held (migration 0090): it was registered from the address of a miner that was
-- suspended before it registered and within :hold_hours, and the operator has not
-- reinstated it since; a suspended miner cannot take jobs again under a new name.
-- Reinstating the suspended miner lifts the hold too (its suspended_at is cleared).
-- Served by miners_suspended_from_idx; :hold_hours 0 holds nobody.
SELECT m.suspended_at, m.suspended_reason,
       EXISTS (SELECT 1 FROM mia.miners AS s
               WHERE s.registered_from = m.registered_from AND s.suspended_at IS NOT NULL AND s.id <> m.id
                 AND s.suspended_at > now() - make_interval(hours => :hold_hours::int)
                 AND s.suspended_at < m.created_at
                 AND (m.reinstated_at IS NULL OR m.reinstated_at < s.suspended_at)) AS held
FROM mia.miners AS m
WHERE m.id = :miner_id
