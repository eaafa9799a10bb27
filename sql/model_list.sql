-- Models served by miners that are not offline (for GET /v1/models).
SELECT model AS id, extract(epoch FROM min(created_at))::bigint AS created, 'mia-miners' AS owned_by
FROM mia.miners
WHERE model IS NOT NULL AND status <> 'offline'
GROUP BY model
ORDER BY model
