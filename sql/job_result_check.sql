-- Why a result was not applied: the state of each job as this miner sees it.
SELECT id AS job_id, status, miner_id, (:miner_id::uuid = ANY (attempted_by)) AS attempted_by_caller,
       lease_token, output, tokens_generated
FROM mia.jobs
WHERE id = ANY (:job_ids::uuid[])
