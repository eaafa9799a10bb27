-- A miner's trust mark and owner (GET /miners/{id}/trust).
SELECT id, operator_trusted, owner_business_id FROM mia.miners WHERE id = :miner_id
