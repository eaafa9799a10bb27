-- Why a result was not applied: the state of each job as this miner sees it.
-- tokens_generated is what the miner reported (a repeated submit is compared
-- with it), not the figure the backend accepted; output is the miner's own text
-- (placeholders not restored: migration 0150).
SELECT id AS job_id, status, miner_id, (:miner_id::uuid = ANY (attempted_by)) AS attempted_by_caller,
       lease_token, coalesce(miner_output, output) AS output, tokens_reported AS tokens_generated,
       (status = 'running' AND lease_expires_at < now()) AS lease_expired
FROM mia.jobs
WHERE id = ANY (:job_ids::uuid[])
