-- A business-scoped enrolment token (its sha256 only): a miner registering with it is
-- one of the business's own miners (migration 0170).
INSERT INTO mia.business_enrolment_tokens (business_id, token_hash)
SELECT id, :token_hash FROM mia.businesses WHERE id = :business_id AND NOT canary
RETURNING id, business_id, created_at
