-- A job the business cancelled while this miner held its lease: the miner's
-- work still counts. Store the tokens it reports on the job (the job stays
-- cancelled, its output is not kept); sql/miner_credit_job.sql then settles the
-- accepted figure into tokens_generated, which mia.credit_discrepancies() checks
-- against the credit. Only once per job and only for the lease holder.
WITH input AS (
  SELECT * FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, tokens_generated integer)
)
UPDATE mia.jobs AS j
SET tokens_reported = i.tokens_generated
FROM input AS i
WHERE j.id = i.job_id AND j.status = 'cancelled' AND j.miner_id = :miner_id AND j.claimed_at IS NOT NULL
  AND j.tokens_reported IS NULL AND (i.lease_token IS NULL OR j.lease_token = i.lease_token)
RETURNING j.id AS job_id
