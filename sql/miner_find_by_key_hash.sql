SELECT id
FROM mia.miners
WHERE auth_key_hash = :auth_key_hash
