-- A miner reports that it could not run these jobs (:results is a JSON array of
-- {job_id, lease_token, error}). Each goes back to the queue, or to 'failed'
-- (the dead-letter state) once it has used max_attempts claims.
-- A requeued job waits before it is claimable again (:retry_base_s, doubling per
-- attempt, at most 60 s): a misconfigured miner that fails every job at once must
-- not burn all of a job's attempts in a fraction of a second. sql/job_claim.sql then
-- keeps it from the miners that already tried it for a while (attempted_by).
-- A miner on probation fails for free: the attempt does not count and the job is
-- claimable at once, by someone else (mia.attempt_counts, migration 0090).
WITH input AS (
  SELECT *
  FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, error text)
)
UPDATE mia.jobs AS j
SET status           = CASE WHEN (mia.attempt_counts(j)).exhausted THEN 'failed' ELSE 'queued' END,
    error            = i.error || (mia.attempt_counts(j)).note,
    max_attempts     = (mia.attempt_counts(j)).max_attempts,
    free_drops       = (mia.attempt_counts(j)).free_drops,
    miner_id         = CASE WHEN (mia.attempt_counts(j)).exhausted THEN j.miner_id END,
    lease_token      = CASE WHEN (mia.attempt_counts(j)).exhausted THEN j.lease_token END,
    lease_expires_at = NULL,
    run_after        = CASE WHEN (mia.attempt_counts(j)).exhausted OR NOT (mia.attempt_counts(j)).counted
                            THEN (mia.attempt_counts(j)).run_after
                            ELSE now() + make_interval(secs => least(60, :retry_base_s::double precision * power(2, j.attempts - 1))) END,
    completed_at     = CASE WHEN (mia.attempt_counts(j)).exhausted THEN now() END
FROM input AS i
WHERE j.id = i.job_id AND j.status = 'running' AND j.miner_id = :miner_id
  AND j.lease_token = i.lease_token
RETURNING j.id AS job_id, j.status
