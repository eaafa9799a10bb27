-- What a completion webhook carries, the secret that signs it, and the id of
-- the delivery the trigger queued last (null for a delivery queued before
-- migration 0008).
SELECT j.id AS job_id, j.business_id, j.session_id, j.status, j.callback_url, j.output, j.tool_calls,
       j.tokens_generated, j.prompt_tokens, j.error, j.error_code, j.attempts, j.created_at, j.completed_at,
       b.webhook_secret, d.webhook_id AS current_webhook_id
FROM mia.jobs AS j
JOIN mia.businesses AS b ON b.id = j.business_id
LEFT JOIN mia.webhook_deliveries AS d ON d.job_id = j.id
WHERE j.id = :job_id
