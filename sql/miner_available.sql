-- Is a miner online that could serve a job needing :need_tokens of context? (issue 19)
-- The OpenAI routes ask before they queue a job: with none, they answer 503
-- no_miner_available at once instead of holding the request until it times out while
-- the SDK's retries add a job each. Online as the claim sees it (sql/job_claim.sql):
-- idle or busy, not suspended, its context (per slot) holds the job. Reads the miners
-- table only (a few hundred rows at most), no lock.
SELECT EXISTS (
  SELECT 1 FROM mia.miners AS m
  WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL
    AND coalesce(m.context_length, 2147483647) >= :need_tokens::int
) AS available
