-- A page of a session's transcript (GET /sessions/{session_id}): the business's jobs in
-- the session, oldest first, after the position (:after_at, :after_id) (api/http/cursor.ts;
-- '-infinity' for the first page), :limit rows (the caller asks for one more than it shows,
-- to know whether a page follows). One job is one turn: the customer's message, the
-- accepted answer, or why there is none. A job purged after MIA_JOB_RETENTION_HOURS leaves the
-- transcript (its chat-log rows stay for the model's history).
-- Plan: a range of jobs_session_idx (business_id, session_id, created_at, id), migration
-- 0130; no sort.
-- The customer's message as written comes from the chat log: the job's prompt holds what
-- the miner was sent, with personal data replaced by placeholders (migration 0150).
SELECT j.id, j.status, j.model,
       coalesce((SELECT c.message FROM mia.chat_logs AS c WHERE c.job_id = j.id AND c.role = 'user'), j.prompt) AS message,
       CASE WHEN j.status = 'completed' THEN j.output END AS answer,
       j.tokens_generated, j.prompt_tokens, j.attempts,
       -- error also holds the reason of an attempt that was retried: only a job that
       -- ended without an answer has a failure reason.
       CASE WHEN j.status IN ('failed', 'cancelled') THEN j.error END AS error, j.error_code,
       j.created_at, j.completed_at,
       to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
FROM mia.jobs AS j
WHERE j.business_id = :business_id AND j.session_id = :session_id
  AND (j.created_at, j.id) > (:after_at::timestamptz, :after_id::uuid)
ORDER BY j.created_at, j.id
LIMIT :limit
