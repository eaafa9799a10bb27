-- A miner that long-polls is alive even when it sends no status report; one
-- the maintenance worker marked offline after a silence is back.
UPDATE mia.miners
SET last_active = now(), status = CASE WHEN status = 'offline' THEN 'idle' ELSE status END
WHERE id = :miner_id
