-- A business's usage between :from and :to by UTC day and model: the rows of
-- the DBA view mia.business_usage_daily, plus this month's budget position.
SELECT coalesce((
         SELECT jsonb_agg(jsonb_build_object('day', d.day::text, 'model', d.model, 'jobs', d.jobs,
                                             'prompt_tokens', d.prompt_tokens, 'completion_tokens', d.completion_tokens)
                          ORDER BY d.day, d.model)
         FROM mia.business_usage_daily AS d
         WHERE d.business_id = :business_id AND d.day >= (:from::timestamptz AT TIME ZONE 'UTC')::date
           AND d.day <= (:to::timestamptz AT TIME ZONE 'UTC')::date), '[]') AS days,
       b.monthly_token_budget::float8 AS monthly_token_budget
FROM mia.businesses AS b
WHERE b.id = :business_id
