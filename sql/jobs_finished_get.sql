-- Wake-up check for parked POST /chat and GET /job/{id}/result calls: which of
-- these jobs have reached a final state.
SELECT id
FROM mia.jobs
WHERE id = ANY (:ids::uuid[]) AND status IN ('completed', 'failed', 'cancelled')
