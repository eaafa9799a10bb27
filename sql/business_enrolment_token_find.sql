-- Whose enrolment token is this (by hash; one indexed equality)?
SELECT business_id FROM mia.business_enrolment_tokens WHERE token_hash = :token_hash
