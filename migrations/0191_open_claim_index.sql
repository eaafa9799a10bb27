-- Up Migration
-- The open pick of the claim (mia.claim_jobs, migration 0180) reads jobs_claim_idx in queue
-- order and skipped restricted jobs (jobs.pool, migration 0170) as a filter on each row it
-- read: a backlog of own-pool jobs at the head of the queue (own miners slower than their
-- business submits) was read past by every outsider's claim, 10,000 of them 5.7 ms against
-- 0.74 (bench scenario 5p, 2026-12-06). Restricted jobs are claimed from
-- jobs_pool_claim_idx only, so the open index leaves them out: a claim reads no row it may
-- not take, and a restricted job costs one index entry fewer. Same name, same columns.
CREATE INDEX jobs_open_claim_idx ON mia.jobs (priority, fair_at) WHERE status = 'queued' AND pool IS NULL;
DROP INDEX mia.jobs_claim_idx;
ALTER INDEX mia.jobs_open_claim_idx RENAME TO jobs_claim_idx;

-- Down Migration
CREATE INDEX jobs_any_claim_idx ON mia.jobs (priority, fair_at) WHERE status = 'queued';
DROP INDEX mia.jobs_claim_idx;
ALTER INDEX mia.jobs_any_claim_idx RENAME TO jobs_claim_idx;
