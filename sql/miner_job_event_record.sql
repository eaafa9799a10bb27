-- Record a miner's aborted jobs and refused results (:events, a JSON array of
-- {job_id, kind}) and count its last hour of each kind, for the rate checks.
-- Older events of this miner are dropped on the way: only the hour matters.
WITH input AS (
  SELECT * FROM jsonb_to_recordset(:events::jsonb) AS e(job_id uuid, kind text)
), pruned AS (
  DELETE FROM mia.miner_job_events WHERE miner_id = :miner_id AND created_at < now() - interval '1 hour'
), added AS (
  INSERT INTO mia.miner_job_events (miner_id, job_id, kind)
  SELECT :miner_id, job_id, kind FROM input
  RETURNING kind
)
-- The statement's own inserts are not visible to its reads: add them.
SELECT k.kind,
       ((SELECT count(*) FROM mia.miner_job_events AS e
         WHERE e.miner_id = :miner_id AND e.kind = k.kind AND e.created_at > now() - interval '1 hour')
        + (SELECT count(*) FROM added WHERE added.kind = k.kind))::int AS last_hour
FROM (VALUES ('aborted'), ('refused')) AS k (kind)
