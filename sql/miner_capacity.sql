-- What the online miners can hold, for a job whose prompt without history needs
-- :base_tokens of context and that runs on :model (NULL: any miner) (issues 17 and 19).
-- Online as the claim sees it (sql/job_claim.sql): idle or busy, not suspended;
-- context_length is per slot, NULL (not reported) holds anything. At submit:
--   online = 0                         → no miner at all (OpenAI routes: no_miner_available);
--   largest_context below the need     → no_capable_miner, unless the business waits
--                                        (NULL: none online serves the model);
--   smallest_fitting                   → the context the session history is trimmed to
--                                        (api/chat/buildMessages.ts), NULL if none fits.
-- Reads the miners table only (a few hundred rows at most), no lock.
SELECT count(*)::int AS online,
       max(s.ctx)::int AS largest_context,
       min(s.ctx) FILTER (WHERE s.ctx >= :base_tokens::int)::int AS smallest_fitting
FROM (
  SELECT CASE WHEN :model::text IS NULL OR m.model = :model::text
              THEN coalesce(m.context_length, 2147483647) END AS ctx
  FROM mia.miners AS m
  WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL
) AS s
