-- End escrow for miners with a track record: at least :min_jobs credited jobs
-- and :min_days days since registration (or the operator's reinstatement),
-- with no suspicion in that time. Their credits are `available` from then on.
WITH granted AS (
  UPDATE mia.miners AS m
  SET trusted_at = now()
  WHERE m.trusted_at IS NULL AND m.suspended_at IS NULL
    AND coalesce(m.reinstated_at, m.created_at) <= now() - make_interval(secs => :min_days::float8 * 86400)
    AND NOT EXISTS (
      SELECT 1 FROM mia.miner_suspicions AS s
      WHERE s.miner_id = m.id AND s.created_at >= coalesce(m.reinstated_at, m.created_at))
    AND (SELECT count(*) FROM (
           SELECT 1 FROM mia.miner_credits AS c
           WHERE c.miner_id = m.id AND c.kind = 'job' AND c.created_at >= coalesce(m.reinstated_at, m.created_at)
           LIMIT :min_jobs::int) AS enough) >= :min_jobs::int
  RETURNING m.id
)
SELECT count(*)::int AS miners_trusted FROM granted
