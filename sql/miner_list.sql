-- A page of miners (GET /miners), oldest first, after the position (:after_at, :after_id)
-- (api/http/cursor.ts; '-infinity' for the first page), :limit rows. The route leaves out
-- what a caller may not see (ip_address but for the operator; names, GPUs and reasons for
-- businesses). The miners table is small (hundreds of rows).
SELECT id, name, ip_address, gpu_name, gpu_memory_mb, gpus, model, context_length, slots, status, status_reason,
       job_count, total_tokens_generated, tokens_per_second, created_at, last_active,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
FROM mia.miners
WHERE (created_at, id) > (:after_at::timestamptz, :after_id::uuid)
ORDER BY created_at, id
LIMIT :limit
