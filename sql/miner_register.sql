-- Register a new miner; a taken name returns no row (the caller answers 409).
-- registered_from: the address the request came from (migration 0090), NULL when the
-- operator registered it.
INSERT INTO mia.miners (name, auth_key_hash, ip_address, gpu_name, gpu_memory_mb, gpus, model,
                        context_length, slots, status, registered_from)
VALUES (:name, :auth_key_hash, :ip_address, :gpu_name, :gpu_memory_mb, :gpus::jsonb, :model,
        :context_length, :slots, :status, :registered_from)
ON CONFLICT (name) DO NOTHING
RETURNING id
