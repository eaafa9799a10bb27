-- Top miners by credits since :since (NULL = all time). Public: miner ids and
-- numbers only, no names, IPs or anything else a miner typed.
SELECT c.miner_id, sum(c.credits)::float8 AS credits,
       count(*) FILTER (WHERE c.kind = 'job')::int AS jobs,
       coalesce(sum(c.tokens) FILTER (WHERE c.kind = 'job'), 0)::float8 AS tokens,
       coalesce(sum(c.tokens) FILTER (WHERE c.kind = 'job') / nullif(sum(c.seconds) FILTER (WHERE c.kind = 'job'), 0), 0)::float8
         AS tokens_per_second
FROM mia.miner_credits AS c
WHERE :since::timestamptz IS NULL OR c.created_at >= :since::timestamptz
GROUP BY c.miner_id
ORDER BY credits DESC, c.miner_id
LIMIT :limit
