SELECT id, name, ip_address, gpu_name, gpu_memory_mb, gpus, model, context_length, slots, status, status_reason,
       job_count, total_tokens_generated, tokens_per_second, created_at, last_active
FROM mia.miners
ORDER BY created_at, id
