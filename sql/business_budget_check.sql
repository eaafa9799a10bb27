-- A business's token budget for this calendar month (UTC), what it used of it
-- (prompt + completion tokens the backend accepted for its completed jobs) and
-- what its queued and running jobs hold reserved (migration 0085). No row: no
-- budget. Sums are bigint: one row may hold up to 2^31-1 tokens.
SELECT b.monthly_token_budget::float8 AS budget, coalesce(u.used, 0)::float8 AS used,
       b.reserved_tokens::float8 AS reserved,
       (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' AS resets_at
FROM mia.businesses AS b
LEFT JOIN LATERAL (
  SELECT sum(prompt_tokens::bigint + completion_tokens::bigint) AS used FROM mia.job_usage
  WHERE business_id = b.id AND completed_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
) AS u ON true
WHERE b.id = :business_id AND b.monthly_token_budget IS NOT NULL
