-- Models a job can be routed to now (GET /v1/models, and the `model` check of /v1 and
-- POST /chat): served by a miner the claim would give a job to (sql/job_claim.sql):
-- idle or busy, not suspended. A draining or suspended miner's model is not listed, so
-- a job naming it is refused (404 model_not_found) instead of waiting for nobody.
SELECT model AS id, extract(epoch FROM min(created_at))::bigint AS created, 'mia-miners' AS owned_by
FROM mia.miners
WHERE model IS NOT NULL AND status IN ('idle', 'busy') AND suspended_at IS NULL
GROUP BY model
ORDER BY model
