-- What a completion webhook carries, and the secret that signs it.
SELECT j.id AS job_id, j.business_id, j.session_id, j.status, j.callback_url, j.output, j.tool_calls,
       j.tokens_generated, j.prompt_tokens, j.error, j.attempts, j.created_at, j.completed_at,
       b.webhook_secret
FROM mia.jobs AS j
JOIN mia.businesses AS b ON b.id = j.business_id
WHERE j.id = :job_id
