-- A miner going offline gives its running jobs back. The attempt is counted: a job
-- whose miner keeps crashing on it (a poison job; a restarted miner's first report is
-- `offline`) must reach max_attempts and dead-letter, not cycle forever.
UPDATE mia.jobs
SET status           = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
    error            = 'attempt ' || attempts || ' of ' || max_attempts || ': its miner went offline while running it',
    miner_id         = CASE WHEN attempts >= max_attempts THEN miner_id END,
    lease_token      = CASE WHEN attempts >= max_attempts THEN lease_token END,
    lease_expires_at = NULL,
    claimed_at       = CASE WHEN attempts >= max_attempts THEN claimed_at END,
    completed_at     = CASE WHEN attempts >= max_attempts THEN now() END
WHERE miner_id = :miner_id AND status = 'running'
RETURNING id
