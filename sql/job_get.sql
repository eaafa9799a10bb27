SELECT id, business_id, session_id, status, output, tool_calls, tokens_generated, prompt_tokens,
       error, error_code, attempts, max_attempts, miner_id, created_at, claimed_at, completed_at, miner_output, pii_redacted
FROM mia.jobs
WHERE id = :id
