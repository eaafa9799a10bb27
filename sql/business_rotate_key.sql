-- Replace the API key hash: the old key stops working at once on this process
-- (and within MIA_AUTH_CACHE_SECONDS on the others).
UPDATE mia.businesses
SET api_key_hash = :api_key_hash, updated_at = now()
WHERE id = :id
RETURNING id
