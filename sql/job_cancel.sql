-- Cancel a job that has not finished. A running job's miner learns it when its
-- result is refused (409): the lease is gone with the status.
UPDATE mia.jobs
SET status = 'cancelled', completed_at = now(), lease_expires_at = NULL,
    error = coalesce(:reason, 'cancelled'), error_code = NULL
WHERE id = :id AND status IN ('queued', 'running')
  AND (:business_id::uuid IS NULL OR business_id = :business_id::uuid)
RETURNING id
