SELECT id, system_prompt, priority
FROM mia.businesses
WHERE api_key_hash = :api_key_hash
