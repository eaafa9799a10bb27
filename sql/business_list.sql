-- A page of businesses (GET /businesses, operator), oldest first, after the position
-- (:after_at, :after_id), :limit rows, each with this month's (UTC) usage: jobs answered
-- and prompt + completion tokens accepted (mia.job_usage, the figures budgets count; they
-- outlive job retention), the budget and what open jobs hold reserved.
-- Plan: businesses is small (an operator's customers) and read in (created_at, id) order;
-- each row's month is a range of job_usage_business_idx.
SELECT b.id, b.name, b.contact_email, b.contact_phone, b.system_prompt, b.priority,
       b.contact_guardrail, b.contact_allowlist, b.widget_origins, b.pii_redaction, b.pii_redaction_categories, b.miner_pool, b.created_at, b.updated_at,
       coalesce(u.jobs, 0)::int AS jobs_this_month,
       coalesce(u.tokens, 0)::float8 AS tokens_this_month,
       b.monthly_token_budget::float8 AS monthly_token_budget,
       b.reserved_tokens::float8 AS reserved,
       to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
FROM mia.businesses AS b
LEFT JOIN LATERAL (
  SELECT count(*) AS jobs, sum(x.prompt_tokens::bigint + x.completion_tokens::bigint) AS tokens
  FROM mia.job_usage AS x
  WHERE x.business_id = b.id AND x.completed_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
) AS u ON true
WHERE (b.created_at, b.id) > (:after_at::timestamptz, :after_id::uuid)
  -- The operator's own canary businesses (migration 0170) are not customers.
  AND NOT b.canary
ORDER BY b.created_at, b.id
LIMIT :limit
