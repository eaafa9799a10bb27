-- A miner's canary record per model (GET /miners/{id}/trust).
SELECT model, passed, failed, streak, verified_at FROM mia.miner_verifications
WHERE miner_id = :miner_id ORDER BY model
