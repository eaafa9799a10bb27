-- Lift a suspension. Earlier suspicions stop counting toward the next one,
-- and an untrusted miner's escrow track record starts again from now.
UPDATE mia.miners
SET suspended_at = NULL, suspended_reason = NULL, reinstated_at = now(), status_reason = NULL
WHERE id = :miner_id
RETURNING id
