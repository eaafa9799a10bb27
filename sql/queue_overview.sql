-- The queue at a glance for the operator (GET /queue), in one round trip. "Online" as the
-- claim sees it (sql/job_claim.sql): idle or busy, not suspended. A queued job is
-- unroutable when no online miner serves its model (NULL: any) with a context (per slot;
-- NULL holds anything) that holds its need_tokens: it waits for its queue deadline, or
-- the fail-fast of sql/job_fail_unroutable*.sql.
-- Plan: queued and running jobs through their partial indexes (jobs_claim_idx,
-- jobs_running_lease_idx), failures of the last hour through jobs_finished_idx; finished
-- jobs are never scanned. by_model: one row per model named by an open job or served by
-- an online miner (model NULL: jobs for any model).
WITH online AS (
  SELECT m.model, coalesce(m.context_length, 2147483647) AS ctx
  FROM mia.miners AS m
  WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL
), largest AS (
  SELECT o.model, max(o.ctx) AS ctx FROM online AS o GROUP BY o.model
), open_jobs AS (
  SELECT j.model, 'queued' AS status, coalesce(j.need_tokens, 0) AS need, j.created_at
  FROM mia.jobs AS j WHERE j.status = 'queued'
  UNION ALL
  SELECT j.model, 'running', 0, j.created_at
  FROM mia.jobs AS j WHERE j.status = 'running'
), per_model AS (
  SELECT j.model,
         count(*) FILTER (WHERE j.status = 'queued') AS queued,
         count(*) FILTER (WHERE j.status = 'running') AS running,
         count(*) FILTER (WHERE j.status = 'queued' AND j.need > coalesce(
           CASE WHEN j.model IS NULL THEN (SELECT max(o.ctx) FROM online AS o) ELSE l.ctx END, -1)) AS unroutable,
         min(j.created_at) FILTER (WHERE j.status = 'queued') AS oldest_queued
  FROM open_jobs AS j
  LEFT JOIN largest AS l ON l.model = j.model
  GROUP BY j.model
), models AS (
  SELECT p.model, p.queued, p.running, p.unroutable, p.oldest_queued FROM per_model AS p
  UNION ALL
  SELECT DISTINCT o.model, 0, 0, 0, NULL::timestamptz FROM online AS o
  WHERE o.model IS NOT NULL AND NOT EXISTS (SELECT 1 FROM per_model AS p WHERE p.model = o.model)
)
SELECT coalesce(sum(x.queued), 0)::int AS queued,
       coalesce(sum(x.running), 0)::int AS running,
       extract(epoch FROM now() - min(x.oldest_queued))::float8 AS oldest_queued_seconds,
       coalesce(sum(x.unroutable), 0)::int AS unroutable,
       (SELECT count(*) FROM online)::int AS miners_online,
       (SELECT count(*) FROM mia.jobs AS f
        WHERE f.status = 'failed' AND f.completed_at > now() - interval '1 hour')::int AS failed_last_hour,
       coalesce(jsonb_agg(jsonb_build_object(
         'model', x.model, 'queued', x.queued, 'running', x.running,
         'miners_online', CASE WHEN x.model IS NULL THEN (SELECT count(*) FROM online)
                               ELSE (SELECT count(*) FROM online AS o WHERE o.model = x.model) END)
         ORDER BY x.model NULLS FIRST), '[]') AS by_model,
       now() AS at
FROM models AS x
