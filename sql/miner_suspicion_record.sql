-- A suspicion not tied to one job (abort or refusal rate), at most one per
-- reason and miner per hour, so one bad hour counts once.
INSERT INTO mia.miner_suspicions (miner_id, reason, figures)
SELECT :miner_id, :reason, :figures::jsonb
WHERE NOT EXISTS (
  SELECT 1 FROM mia.miner_suspicions
  WHERE miner_id = :miner_id AND reason = :reason AND created_at > now() - interval '1 hour'
)
RETURNING id
