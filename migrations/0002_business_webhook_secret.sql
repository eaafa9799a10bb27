-- Up Migration
-- Completion webhooks are signed with HMAC-SHA256 (X-MIA-Signature). Unlike an
-- API key, which we only ever compare, an HMAC key must be *used*: the signer
-- needs the secret itself, so it cannot be stored as a hash. It is kept in
-- plaintext on purpose: it authorises nothing against MIA (it is not an API
-- credential); whoever reads it can only forge webhooks to that one business.
-- Encrypting it with a server-held key would only move the secret into the
-- API's environment, next to DATABASE_URL. It is shown once, at creation (and
-- on rotation), and never returned by any other response.
ALTER TABLE mia.businesses ADD COLUMN webhook_secret text;
-- Businesses created before this migration get a random secret (2 × 122 random
-- bits of uuid v4); the operator rotates it to learn it.
UPDATE mia.businesses
SET webhook_secret = 'mia_wh_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
WHERE webhook_secret IS NULL;
ALTER TABLE mia.businesses ALTER COLUMN webhook_secret SET NOT NULL;

-- Down Migration
ALTER TABLE mia.businesses DROP COLUMN webhook_secret;
