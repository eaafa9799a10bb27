-- A miner that long-polls is alive even when it sends no status report.
UPDATE mia.miners SET last_active = now() WHERE id = :miner_id
