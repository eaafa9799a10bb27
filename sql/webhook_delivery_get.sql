-- The state of a job's webhook, as its business sees it on GET /job/{id}/result.
SELECT webhook_id, status, attempts, last_error, last_response_status, last_attempt_at, delivered_at
FROM mia.webhook_deliveries
WHERE job_id = :job_id
