-- Replace the secret that signs this business's completion webhooks.
-- Deliveries sent from now on (including retries) use the new one.
UPDATE mia.businesses
SET webhook_secret = :webhook_secret, updated_at = now()
WHERE id = :id
RETURNING id
