-- First statement of a claim's transaction (api/store/jobs.ts): one transaction-scoped
-- advisory lock per claiming miner, in key order (two multi-miner claims cannot
-- deadlock). Two overlapping claims for the same miner run one after the other, and the
-- claim that follows, a new statement with a fresh snapshot, counts the jobs the other
-- one gave it: a slots=1 miner asking twice at once gets one job, not two (the count in
-- sql/job_claim.sql alone held only inside one statement). Advisory, not the miner row:
-- the row lock would come before the jobs' (sql/LOCK_ORDER.md) and make claims wait on
-- heartbeats and results; this one is taken only by claims, which wait on nothing else
-- (SKIP LOCKED). A key collision between two miners only serialises their claims.
-- It also sets two things for the rest of the claim's transaction only: generic plans
-- (plan_cache_mode: "Plan" in sql/job_claim.sql), and a commit that does not wait for
-- the WAL flush (synchronous_commit off, ~1 ms of the dispatch on the way to every
-- job). A claim is a lease, not data anyone gave us: if the server crashes within the
-- WAL writer's delay of the commit, the claim is undone and the job is queued again
-- (nothing stored is lost); the miner holding it is then refused with 409 at its first
-- delta or result, and the job runs again elsewhere.
SELECT count(*)::int AS locked,
       set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode,
       set_config('synchronous_commit', 'off', true) AS synchronous_commit
FROM (SELECT pg_advisory_xact_lock(k)
      FROM (SELECT DISTINCT hashtextextended(m::text, 17) AS k
            FROM unnest(:miner_ids::uuid[]) AS t(m)
            ORDER BY k) AS keys) AS taken
