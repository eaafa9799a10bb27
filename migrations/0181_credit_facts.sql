-- Up Migration
-- What the plausibility checks (api/credits/plausibility.ts) need about a job, as one
-- function of the job's row, so the completion can return it (sql/job_complete.sql: the
-- row it just wrote) and a result's transaction needs no read of its own for it (one
-- round trip fewer per result, issue 17); sql/job_credit_facts.sql reads the same for
-- jobs credited another way (work on a job cancelled while the miner held it).
-- The token counts are the miner's claims; what the model can do comes from the
-- operator's table (mia.model_profiles), never from the name the miner chose.
CREATE FUNCTION mia.credit_facts(j mia.jobs)
RETURNS TABLE (
  job_id uuid, status text, model text, max_tokens integer, tokens_generated integer, prompt_tokens integer,
  hidden_reasoning boolean, parameters_billions double precision, output_bytes integer, tool_calls_bytes integer,
  prompt_bytes integer, message_count integer, seconds double precision
)
LANGUAGE sql STABLE AS $$
  SELECT j.id, j.status, coalesce(m.model, 'unknown'), j.max_tokens,
         j.tokens_reported, j.prompt_tokens_reported,
         coalesce(p.hidden_reasoning, false),
         p.parameters_billions::float8,
         -- What the miner wrote (placeholders, migration 0150), not the restored answer.
         octet_length(coalesce(j.miner_output, j.output, '')),
         coalesce(octet_length(j.tool_calls::text), 0),
         octet_length(j.messages::text) + coalesce(octet_length(j.tools::text), 0),
         jsonb_array_length(j.messages),
         -- A cancelled job's work ended now, not when it was cancelled.
         extract(epoch FROM CASE WHEN j.status = 'completed' THEN j.completed_at ELSE now() END - j.claimed_at)::float8
  FROM mia.miners AS m
  LEFT JOIN mia.model_profiles AS p ON p.model = m.model
  WHERE m.id = j.miner_id
$$;
COMMENT ON FUNCTION mia.credit_facts(mia.jobs) IS
  'What the plausibility checks need about a job (its miner''s model, the operator''s profile of it, sizes, seconds).';

-- Down Migration
DROP FUNCTION mia.credit_facts(mia.jobs);
