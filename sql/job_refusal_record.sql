-- A result refused for its content (api/integrity/screenResults.ts): the
-- miner's suspicion for this attempt and, when the attempt had streamed text
-- to customers, the audit record of what they were shown (mia.job_retractions,
-- migration 0080). Runs in the transaction that fails the attempt.
WITH suspected AS (
  INSERT INTO mia.miner_suspicions (miner_id, job_id, attempt, reason, figures)
  VALUES (:miner_id, :job_id, :attempt, :reason, :figures::jsonb)
  ON CONFLICT (job_id, attempt, reason) WHERE job_id IS NOT NULL DO NOTHING
  RETURNING id
), retracted AS (
  INSERT INTO mia.job_retractions (job_id, attempt, miner_id, business_id, reason, streamed)
  SELECT :job_id, :attempt, :miner_id, :business_id, :reason, :streamed
  WHERE :streamed::text <> ''
  ON CONFLICT (job_id, attempt) DO NOTHING
  RETURNING id
)
SELECT (SELECT count(*) FROM suspected)::int AS suspicions,
       (SELECT count(*) FROM retracted)::int AS retractions
