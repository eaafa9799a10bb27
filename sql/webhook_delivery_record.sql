-- Record one delivery attempt. Only for the delivery the trigger queued last:
-- when the job finished again meanwhile (a new webhook_id), this attempt's
-- outcome is stale and changes nothing. The INSERT covers a delivery queued
-- before migration 0008 (no row yet); selecting from mia.jobs skips a job
-- that was purged meanwhile instead of failing on the foreign key.
INSERT INTO mia.webhook_deliveries AS d
  (job_id, webhook_id, status, attempts, last_error, last_response_status, last_attempt_at, delivered_at)
SELECT j.id, :webhook_id::text, :status::text, :attempts::integer, :last_error::text,
       :last_response_status::integer, now(), CASE WHEN :status::text = 'delivered' THEN now() END
FROM mia.jobs AS j
WHERE j.id = :job_id
ON CONFLICT (job_id) DO UPDATE SET
  status = EXCLUDED.status,
  attempts = EXCLUDED.attempts,
  last_error = EXCLUDED.last_error,
  last_response_status = EXCLUDED.last_response_status,
  last_attempt_at = EXCLUDED.last_attempt_at,
  delivered_at = EXCLUDED.delivered_at
WHERE d.webhook_id = EXCLUDED.webhook_id
RETURNING d.job_id
