-- Per model served by online, unsuspended miners: how many serve it, and how many of its
-- canaries are still queued (the task tops up to MIA_CANARY_RATE per miner per hour, and
-- never piles more than one waiting canary per miner onto a model whose miners are busy).
-- Plan: miners is small; the queued canaries are read from jobs_canary_queued_idx.
SELECT m.model, count(*)::int AS miners,
       (SELECT count(*) FROM mia.jobs AS j
        WHERE j.status = 'queued' AND j.canary_prompt IS NOT NULL AND j.model = m.model)::int AS queued
FROM mia.miners AS m
WHERE m.model IS NOT NULL AND m.status IN ('idle', 'busy') AND m.suspended_at IS NULL
  -- A business's own miners take its jobs only, never a canary (sql/job_claim.sql).
  AND m.owner_business_id IS NULL
GROUP BY m.model
