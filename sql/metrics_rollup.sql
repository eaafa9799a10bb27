-- Roll the queue's current figures into mia.system_metrics, one row per
-- metric, in one statement. Rates are over the last full minute
-- (:window_s seconds), so a dashboard can read them without scanning jobs.
WITH figures AS (
  SELECT 'jobs_' || s.status AS metric_name, count(j.id)::double precision AS value
  FROM (VALUES ('queued'), ('running'), ('completed'), ('failed'), ('cancelled')) AS s (status)
  LEFT JOIN mia.jobs AS j ON j.status = s.status
  GROUP BY s.status
  UNION ALL
  SELECT 'queue_depth', count(*) FROM mia.jobs WHERE status = 'queued' AND run_after <= now()
  UNION ALL
  SELECT 'oldest_queued_age_seconds', coalesce(extract(epoch FROM now() - min(created_at)), 0)
  FROM mia.jobs WHERE status = 'queued'
  UNION ALL
  SELECT 'miners_' || s.status, count(m.id)
  FROM (VALUES ('idle'), ('busy'), ('offline'), ('draining')) AS s (status)
  LEFT JOIN mia.miners AS m ON m.status = s.status
  GROUP BY s.status
  UNION ALL
  SELECT 'tokens_generated_total', coalesce(sum(total_tokens_generated), 0) FROM mia.miners
  UNION ALL
  SELECT 'jobs_completed_total', coalesce(sum(job_count), 0) FROM mia.miners
  UNION ALL
  SELECT 'jobs_completed_per_minute', count(*) * 60.0 / :window_s::double precision
  FROM mia.jobs WHERE status = 'completed' AND completed_at > now() - make_interval(secs => :window_s::double precision)
  UNION ALL
  SELECT 'tokens_per_minute', coalesce(sum(tokens_generated), 0) * 60.0 / :window_s::double precision
  FROM mia.jobs WHERE status = 'completed' AND completed_at > now() - make_interval(secs => :window_s::double precision)
  UNION ALL
  SELECT 'jobs_failed_per_minute', count(*) * 60.0 / :window_s::double precision
  FROM mia.jobs WHERE status = 'failed' AND completed_at > now() - make_interval(secs => :window_s::double precision)
  UNION ALL
  SELECT 'dispatch_latency_p50_ms', coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM claimed_at - created_at) * 1000), 0)
  FROM mia.jobs WHERE status = 'completed' AND completed_at > now() - make_interval(secs => :window_s::double precision)
  UNION ALL
  SELECT 'dispatch_latency_p99_ms', coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM claimed_at - created_at) * 1000), 0)
  FROM mia.jobs WHERE status = 'completed' AND completed_at > now() - make_interval(secs => :window_s::double precision)
), stored AS (
  INSERT INTO mia.system_metrics AS m (metric_name, value, updated_at)
  SELECT metric_name, value, now() FROM figures
  ON CONFLICT (metric_name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
  RETURNING 1
)
SELECT count(*) AS metrics FROM stored
