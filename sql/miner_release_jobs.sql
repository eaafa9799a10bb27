-- A miner going offline gives its running jobs back, through the one give-back
-- transition (mia.job_give_back, migration 0100). The attempt is counted: a job
-- whose miner keeps crashing on it (a poison job; a restarted miner's first report is
-- `offline`) must reach max_attempts and dead-letter, not cycle forever. Unless its
-- miner is on probation: then the drop is free and the job is claimable at once by
-- someone else. Jobs by id (sql/LOCK_ORDER.md).
WITH held AS (
  SELECT id
  FROM mia.jobs
  WHERE miner_id = :miner_id AND status = 'running'
  ORDER BY id
  FOR UPDATE
)
SELECT g.job_id AS id
FROM mia.job_give_back(ARRAY(SELECT id FROM held), ARRAY['its miner went offline while running it'], 0) AS g
