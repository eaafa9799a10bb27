-- Up Migration
-- A job nobody claims must still end (issue 8, deadlines): each job carries the
-- moment it stops waiting for a miner. The queue-deadline task fails it then with
-- `no_miner_available`; the finish triggers tell waiters and webhooks as for any
-- other failure. NULL: no deadline (MIA_QUEUE_TIMEOUT_SECONDS=0).
ALTER TABLE mia.jobs ADD COLUMN queue_deadline timestamptz;

-- The task's scan: only queued jobs that have a deadline, soonest first.
CREATE INDEX jobs_queue_deadline_idx ON mia.jobs (queue_deadline)
  WHERE status = 'queued' AND queue_deadline IS NOT NULL;

COMMENT ON COLUMN mia.jobs.queue_deadline IS
  'While queued past this moment the job fails with no_miner_available (POST /chat queue_timeout, MIA_QUEUE_TIMEOUT_SECONDS).';

-- Down Migration
DROP INDEX mia.jobs_queue_deadline_idx;
ALTER TABLE mia.jobs DROP COLUMN queue_deadline;
