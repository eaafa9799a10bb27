-- A canary answered below tolerance: a suspicion on that job attempt, counted toward
-- suspension like the plausibility checks' (api/credits/suspension.ts).
INSERT INTO mia.miner_suspicions (miner_id, job_id, attempt, reason, figures)
VALUES (:miner_id, :job_id, :attempt, 'canary_mismatch', :figures::jsonb)
ON CONFLICT (job_id, attempt, reason) WHERE job_id IS NOT NULL DO NOTHING
RETURNING id
