-- Re-registration by the miner itself (it proved its key): refresh what it reports.
UPDATE mia.miners
SET ip_address     = :ip_address,
    gpu_name       = coalesce(:gpu_name, gpu_name),
    gpu_memory_mb  = coalesce(:gpu_memory_mb::integer, gpu_memory_mb),
    gpus           = coalesce(:gpus::jsonb, gpus),
    model          = coalesce(:model, model),
    context_length = coalesce(:context_length::integer, context_length),
    slots          = coalesce(:slots::integer, slots),
    status         = :status,
    last_active    = now()
WHERE id = :id AND name = :name
RETURNING id
