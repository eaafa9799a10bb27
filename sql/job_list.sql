-- A page of jobs (GET /jobs), newest first, before the position (:before_at, :before_id)
-- (api/http/cursor.ts; 'infinity' for the first page), :limit rows. :business_id NULL: every
-- business's (the operator). Filters, each NULL for none: :status, :session_id, created_at
-- in [:since, :until).
--
-- Plans (EXPLAIN on 100k jobs, README "Reading conversations back"): per business, a
-- backward range of jobs_business_created_idx (business_id, created_at, id), or of
-- jobs_session_idx when :session_id is given (migration 0130), stopping after :limit rows;
-- no sort. :status is a filter on that range (a rare status reads further back). Across
-- businesses the same per-business read runs for each business (at most :limit rows each)
-- and only those are merged: no index on created_at alone, which every status change of
-- every job would have to write.
SELECT p.*
FROM mia.businesses AS b
CROSS JOIN LATERAL (
  SELECT j.id, j.business_id, j.session_id, j.status, j.model, j.attempts, j.tokens_generated,
         CASE WHEN j.status IN ('failed', 'cancelled') THEN j.error END AS failure_reason,
         j.created_at, j.completed_at,
         to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
  FROM mia.jobs AS j
  WHERE j.business_id = b.id
    AND (j.created_at, j.id) < (:before_at::timestamptz, :before_id::uuid)
    AND (:status::text IS NULL OR j.status = :status::text)
    AND (:session_id::text IS NULL OR j.session_id = :session_id::text)
    AND (:since::timestamptz IS NULL OR j.created_at >= :since::timestamptz)
    AND (:until::timestamptz IS NULL OR j.created_at < :until::timestamptz)
  ORDER BY j.created_at DESC, j.id DESC
  LIMIT :limit
) AS p
WHERE :business_id::uuid IS NULL OR b.id = :business_id::uuid
ORDER BY p.created_at DESC, p.id DESC
LIMIT :limit
