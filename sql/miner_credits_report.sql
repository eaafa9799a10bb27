-- One miner's credits between :from and :to, by UTC day, kind and model, with
-- the state of its credits: available once trusted, frozen while untrusted
-- with a suspicion since registration (or reinstatement), pending otherwise.
WITH miner AS (
  SELECT m.id, m.trusted_at, m.suspended_at,
         CASE WHEN m.trusted_at IS NOT NULL THEN 'available'
              WHEN EXISTS (SELECT 1 FROM mia.miner_suspicions AS s
                           WHERE s.miner_id = m.id AND s.created_at >= coalesce(m.reinstated_at, m.created_at)) THEN 'frozen'
              ELSE 'pending' END AS state
  FROM mia.miners AS m WHERE m.id = :miner_id
), days AS (
  SELECT (date_trunc('day', c.created_at AT TIME ZONE 'UTC'))::date::text AS day, c.kind, coalesce(c.model, '') AS model,
         count(*)::int AS entries, sum(c.tokens)::float8 AS tokens, sum(c.credits)::float8 AS credits
  FROM mia.miner_credits AS c
  WHERE c.miner_id = :miner_id AND c.created_at >= :from::timestamptz AND c.created_at < :to::timestamptz
  GROUP BY 1, 2, 3
)
SELECT miner.state, miner.trusted_at, miner.suspended_at,
       coalesce((SELECT sum(credits) FROM mia.miner_credits WHERE miner_id = miner.id), 0)::float8 AS total_credits,
       (SELECT count(*) FROM mia.miner_suspicions WHERE miner_id = miner.id)::int AS suspicions,
       coalesce((SELECT jsonb_agg(to_jsonb(days) ORDER BY day, kind, model) FROM days), '[]') AS days
FROM miner
