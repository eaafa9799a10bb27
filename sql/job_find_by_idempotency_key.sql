SELECT id
FROM mia.jobs
WHERE business_id = :business_id AND idempotency_key = :idempotency_key
