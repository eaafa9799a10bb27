-- Cancel a job nobody waits for any more, but only while no miner has it: a
-- client that hung up before its answer started costs no GPU time. A job
-- already running is left to finish (its answer is still stored and logged).
UPDATE mia.jobs
SET status = 'cancelled', completed_at = now(), error = :reason, error_code = NULL
WHERE id = :id AND status = 'queued'
RETURNING id
