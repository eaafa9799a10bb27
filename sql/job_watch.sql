-- A caller is about to wait for this job: ask for a NOTIFY when it finishes
-- (migration 0005) and read its state in the same statement. When the flag
-- had to be set, the row comes from RETURNING, i.e. the newest version, so a
-- completion that committed a moment earlier is seen rather than waited for.
-- Setting the flag locks the row for an instant, and a claim running in that
-- instant skips it (SKIP LOCKED); so for a queued job this statement also
-- re-announces the queue, or a parked miner would wait for the fallback poll.
WITH watched AS (
  UPDATE mia.jobs SET notify_on_finish = true
  WHERE id = :id AND NOT notify_on_finish
  RETURNING id, business_id, session_id, status, output, tool_calls, tokens_generated, prompt_tokens,
            error, error_code, attempts, max_attempts, miner_id, created_at, claimed_at, completed_at, miner_output, pii_redacted
)
SELECT w.*
FROM watched AS w
LEFT JOIN LATERAL (SELECT pg_notify('mia_job_queued', '') WHERE w.status = 'queued') AS wake ON true
UNION ALL
SELECT id, business_id, session_id, status, output, tool_calls, tokens_generated, prompt_tokens,
       error, error_code, attempts, max_attempts, miner_id, created_at, claimed_at, completed_at, miner_output, pii_redacted
FROM mia.jobs
WHERE id = :id AND NOT EXISTS (SELECT 1 FROM watched)
