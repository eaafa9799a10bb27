-- A business's token budget for this calendar month (UTC) and what it used of
-- it (prompt + completion tokens of its completed jobs). No row: no budget.
SELECT b.monthly_token_budget::float8 AS budget, coalesce(u.used, 0)::float8 AS used,
       (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' AS resets_at
FROM mia.businesses AS b
LEFT JOIN LATERAL (
  SELECT sum(prompt_tokens + completion_tokens) AS used FROM mia.job_usage
  WHERE business_id = b.id AND completed_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
) AS u ON true
WHERE b.id = :business_id AND b.monthly_token_budget IS NOT NULL
