-- Before results are stored (api/integrity/screenResults.ts): lock the jobs
-- this miner holds under these leases and read what each current attempt
-- streamed, with what the contact guardrail needs and what the plausibility checks
-- need (mia.credit_facts, migration 0181: the verdict is reached before the completion,
-- which then stores and credits in one statement, sql/job_complete.sql). :results is a
-- JSON array of {job_id, lease_token, tool_calls}: tool_calls as the miner sent them, whose
-- size the checks weigh, as they weigh the miner's own text (placeholders, not values).
-- Locks: the jobs FOR UPDATE, by id (sql/LOCK_ORDER.md). A delta append takes
-- KEY SHARE on its job first (sql/job_delta_append.sql), so none can slip in
-- between this read and the completion in the same transaction; one in flight when the
-- lock is asked for is waited for, and its batch read (mia.attempt_streamed).
-- Plans: the statements that follow in the transaction (completion, canaries, credit
-- facts, the ledger) look rows up by id, where a generic plan is the custom one; without
-- this Postgres re-plans the id-list lookups on every result, since a generic plan costs
-- a list of unknown length above a custom plan's list of one (pg_stat_statements:
-- 0.25 ms planning against 0.02 ms running each). Local to the transaction.
WITH input AS (
  SELECT *
  FROM jsonb_to_recordset(:results::jsonb) AS r(job_id uuid, lease_token uuid, tool_calls jsonb)
), locked AS (
  SELECT j.id, j.attempts, j.business_id, j.messages, j.context, j.pii_placeholders, j.canary_prompt,
         coalesce(octet_length(i.tool_calls::text), 0) AS tool_calls_bytes, j AS job
  FROM mia.jobs AS j JOIN input AS i ON j.id = i.job_id
  WHERE j.status = 'running' AND j.miner_id = :miner_id AND j.lease_token = i.lease_token
    AND j.lease_expires_at >= now()
  ORDER BY j.id
  FOR UPDATE OF j
)
SELECT l.id AS job_id, l.attempts AS attempt, l.business_id,
       b.contact_guardrail AS guardrail, b.contact_allowlist AS allowlist,
       l.messages, l.context,
       -- The job's messages received placeholders (migration 0150): only then is there
       -- anything to read in sql/pii_job_values.sql (most results: nothing, no read).
       coalesce(cardinality(l.pii_placeholders), 0) > 0 AS has_placeholders,
       -- A canary (migration 0170): only then is there anything to judge against a known answer.
       l.canary_prompt IS NOT NULL AS canary,
       set_config('plan_cache_mode', 'force_generic_plan', true) IS NOT NULL AS generic_plans,
       -- Read after the lock, in a snapshot of its own (migration 0190): this statement's
       -- snapshot predates the wait for a delta append in flight, whose batch it would miss.
       s.streamed, s.streamed_tools,
       -- The checks' facts, as the completion will leave the job: it completes at now(), the
       -- transaction's time, so `seconds` is the time it will have run. The miner's figures
       -- (tokens, its text's size) come from the result itself (api/credits/creditResults.ts).
       f.model, f.max_tokens, f.hidden_reasoning, f.parameters_billions, l.tool_calls_bytes,
       f.prompt_bytes, f.message_count, f.seconds
FROM locked AS l
JOIN mia.businesses AS b ON b.id = l.business_id
CROSS JOIN LATERAL mia.attempt_streamed(l.id, l.attempts) AS s
CROSS JOIN LATERAL mia.credit_facts(l.job) AS f
