-- A miner reports that it could not run these jobs (:results is a JSON array of
-- {job_id, lease_token, error}). Each goes back to the queue, or to 'failed'
-- (the dead-letter state) once it has used max_attempts claims.
WITH input AS (
  SELECT *
  FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, error text)
)
UPDATE mia.jobs AS j
SET status           = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END,
    error            = i.error,
    miner_id         = CASE WHEN j.attempts >= j.max_attempts THEN j.miner_id END,
    lease_token      = CASE WHEN j.attempts >= j.max_attempts THEN j.lease_token END,
    lease_expires_at = NULL,
    completed_at     = CASE WHEN j.attempts >= j.max_attempts THEN now() END
FROM input AS i
WHERE j.id = i.job_id AND j.status = 'running' AND j.miner_id = :miner_id
  AND j.lease_token = i.lease_token
RETURNING j.id AS job_id, j.status
