-- A miner reports that it could not run these jobs (:results is a JSON array of
-- {job_id, lease_token, error, error_code}). Each goes back to the queue, or to 'failed' (the
-- dead-letter state) once it has used max_attempts claims, through the one give-back
-- transition (mia.job_give_back, migrations 0100, 0125); the error is kept in the
-- miner's words for the operator, and error_code (our class of it; 'unspecified' when
-- the miner sent none) is what the business is told (api/jobs/failureReason.ts). A requeued job waits before it is claimable again (:retry_base_s, doubling
-- per attempt, at most 60 s): a misconfigured miner that fails every job at once must
-- not burn all of a job's attempts in a fraction of a second. sql/job_claim.sql then
-- keeps it from the miners that already tried it for a while (attempted_by).
-- Fenced: only this miner's running lease, and not after it expired (lease_lost;
-- the reaper gives that job back).
WITH input AS (
  SELECT *
  FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, error text, error_code text)
), held AS (
  SELECT j.id, i.error, i.error_code
  FROM mia.jobs AS j JOIN input AS i ON j.id = i.job_id
  WHERE j.status = 'running' AND j.miner_id = :miner_id AND j.lease_token = i.lease_token
    AND j.lease_expires_at >= now()
  ORDER BY j.id
  FOR UPDATE OF j
)
SELECT g.job_id, g.status
FROM mia.job_give_back(ARRAY(SELECT id FROM held ORDER BY id), ARRAY(SELECT error FROM held ORDER BY id),
                       :retry_base_s::double precision, true,
                       ARRAY(SELECT error_code FROM held ORDER BY id)) AS g
