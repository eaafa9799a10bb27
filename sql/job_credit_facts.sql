-- What the plausibility checks (api/credits/plausibility.ts) need about jobs
-- this miner just completed, or held when they were cancelled. Read in the
-- result's transaction, after sql/job_complete.sql, before sql/miner_credit_job.sql.
-- The token counts are the miner's claims; what the model can do comes from the
-- operator's table (mia.model_profiles), never from the name the miner chose.
SELECT j.id AS job_id, j.status, coalesce(m.model, 'unknown') AS model, j.max_tokens,
       j.tokens_reported AS tokens_generated, j.prompt_tokens_reported AS prompt_tokens,
       coalesce(p.hidden_reasoning, false) AS hidden_reasoning,
       p.parameters_billions::float8 AS parameters_billions,
       -- What the miner wrote (placeholders, migration 0150), not the restored answer.
       octet_length(coalesce(j.miner_output, j.output, '')) AS output_bytes,
       coalesce(octet_length(j.tool_calls::text), 0) AS tool_calls_bytes,
       octet_length(j.messages::text) + coalesce(octet_length(j.tools::text), 0) AS prompt_bytes,
       jsonb_array_length(j.messages) AS message_count,
       -- A cancelled job's work ended now, not when it was cancelled.
       extract(epoch FROM CASE WHEN j.status = 'completed' THEN j.completed_at ELSE now() END - j.claimed_at)::float8 AS seconds
FROM mia.jobs AS j
JOIN mia.miners AS m ON m.id = j.miner_id
LEFT JOIN mia.model_profiles AS p ON p.model = m.model
WHERE j.id = ANY (:job_ids::uuid[]) AND j.miner_id = :miner_id
