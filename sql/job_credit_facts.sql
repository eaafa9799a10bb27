-- What the plausibility checks (api/credits/plausibility.ts) need about jobs this miner
-- held when they were cancelled (mia.credit_facts, migration 0181). Jobs it completes get
-- the same from the stream lock (sql/job_stream_lock.sql), with no read of their own. Read in
-- the result's transaction, before sql/miner_credit_job.sql.
SELECT f.*
FROM mia.jobs AS j
CROSS JOIN LATERAL mia.credit_facts(j) AS f
WHERE j.id = ANY (:job_ids::uuid[]) AND j.miner_id = :miner_id
