-- Everything GET /metrics reports, in one round trip.
SELECT
  (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
     FROM (SELECT status, count(*) AS n FROM mia.jobs GROUP BY status) AS s) AS jobs_by_status,
  (SELECT count(*) FROM mia.jobs WHERE status = 'queued') AS queue_depth,
  (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::double precision
     FROM mia.jobs WHERE status = 'queued') AS oldest_queued_age_seconds,
  (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
     FROM (SELECT status, count(*) AS n FROM mia.miners GROUP BY status) AS s) AS miners_by_status,
  (SELECT coalesce(sum(total_tokens_generated), 0) FROM mia.miners) AS total_tokens_generated,
  (SELECT coalesce(sum(job_count), 0) FROM mia.miners) AS total_jobs_completed
