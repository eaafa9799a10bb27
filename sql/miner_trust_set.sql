-- The operator marks a miner trusted (or not): its canary answers become the reference
-- and it may take jobs of trusted and verified pools (migration 0170).
UPDATE mia.miners SET operator_trusted = :trusted WHERE id = :miner_id
RETURNING id, operator_trusted, owner_business_id
