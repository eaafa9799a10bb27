-- A miner going offline gives its running jobs back. The attempt is counted: a job
-- whose miner keeps crashing on it (a poison job; a restarted miner's first report is
-- `offline`) must reach max_attempts and dead-letter, not cycle forever. Unless its
-- miner is on probation: then the drop is free and the job is claimable at once by
-- someone else (mia.attempt_counts, migration 0090).
UPDATE mia.jobs AS j
SET status           = CASE WHEN (mia.attempt_counts(j)).exhausted THEN 'failed' ELSE 'queued' END,
    error            = 'attempt ' || j.attempts || ' of ' || (mia.attempt_counts(j)).max_attempts
                       || (mia.attempt_counts(j)).note || ': its miner went offline while running it',
    max_attempts     = (mia.attempt_counts(j)).max_attempts,
    free_drops       = (mia.attempt_counts(j)).free_drops,
    run_after        = (mia.attempt_counts(j)).run_after,
    miner_id         = CASE WHEN (mia.attempt_counts(j)).exhausted THEN j.miner_id END,
    lease_token      = CASE WHEN (mia.attempt_counts(j)).exhausted THEN j.lease_token END,
    lease_expires_at = NULL,
    claimed_at       = CASE WHEN (mia.attempt_counts(j)).exhausted THEN j.claimed_at END,
    completed_at     = CASE WHEN (mia.attempt_counts(j)).exhausted THEN now() END
WHERE j.miner_id = :miner_id AND j.status = 'running'
RETURNING j.id
