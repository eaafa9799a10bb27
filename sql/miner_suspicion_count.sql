-- Suspicions that count toward suspension: within the window and after the
-- operator's last reinstatement. Also says whether the miner is suspended now.
SELECT m.suspended_at IS NOT NULL AS suspended,
       (SELECT count(*) FROM mia.miner_suspicions AS s
        WHERE s.miner_id = m.id AND s.created_at > now() - make_interval(hours => :window_hours::int)
          AND s.created_at > coalesce(m.reinstated_at, '-infinity'))::int AS suspicions
FROM mia.miners AS m
WHERE m.id = :miner_id
