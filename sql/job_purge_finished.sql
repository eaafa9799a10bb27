-- Delete up to :batch_size jobs that finished (completed, failed, cancelled)
-- more than :retention_s seconds ago. Chat logs stay: they have no foreign key
-- to jobs. Bounded batches keep each transaction, its locks and its WAL small;
-- the caller repeats while a batch comes back full.
WITH doomed AS (
  SELECT id
  FROM mia.jobs
  -- Served by jobs_finished_idx.
  WHERE status IN ('completed', 'failed', 'cancelled')
    AND completed_at < now() - make_interval(secs => :retention_s::double precision)
  ORDER BY completed_at
  LIMIT :batch_size
  FOR UPDATE SKIP LOCKED
), deleted AS (
  DELETE FROM mia.jobs AS j
  USING doomed AS d
  WHERE j.id = d.id
  RETURNING j.id
)
SELECT count(*) AS deleted FROM deleted
