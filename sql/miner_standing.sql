-- Is the miner suspended? Read by every claim (GET /job/next, /jobs/next).
SELECT suspended_at, suspended_reason FROM mia.miners WHERE id = :miner_id
