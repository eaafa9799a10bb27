-- Register a new miner; a taken name returns no row (the caller answers 409).
INSERT INTO mia.miners (name, auth_key_hash, ip_address, gpu_name, gpu_memory_mb, gpus, model,
                        context_length, slots, status)
VALUES (:name, :auth_key_hash, :ip_address, :gpu_name, :gpu_memory_mb, :gpus::jsonb, :model,
        :context_length, :slots, :status)
ON CONFLICT (name) DO NOTHING
RETURNING id
