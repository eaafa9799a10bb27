-- Claim up to cardinality(:miner_ids) queued jobs in one short statement: the
-- first jobs by priority, then fair_at (submission time, spread out per business
-- so businesses take turns: migration 0070), one per wanted slot. One miner asking for
-- n jobs repeats its id n times; the dispatcher serving several parked miners
-- lists each of them, oldest waiter first.
--
-- Context: a job goes only to a miner whose context_length (per slot) holds its
-- need_tokens (prompt + max_tokens, estimated at submit). Among the jobs picked, the
-- biggest goes to the miner with the biggest context; between equal contexts the
-- oldest waiter comes first. SKIP LOCKED lets any number of claimers run at once
-- without waiting on each other or taking the same job twice.
--
-- Slots are enforced here: each miner gets at most its registered `slots` minus the jobs
-- it already runs (counted through jobs_running_miner_idx), however often it asks, so a
-- miner registered with slots=1 cannot hoard the queue. The count holds across
-- concurrent claims because the claim's transaction first takes each miner's advisory
-- lock (sql/miner_claim_lock.sql), so this statement's snapshot sees the jobs an
-- overlapping claim gave the same miner. The miner rows are read, not locked (lock
-- order, sql/LOCK_ORDER.md: jobs before miners).
--
-- Plan (issue 17): each pick reads at most 256 rows (the most slots a miner registers; a
-- dispatcher round asks for at most 200), a constant the planner sees, and the
-- parameter :max_jobs (cardinality(:miner_ids)) cuts that lazily, so the index scan of
-- jobs_claim_idx is costed at a few thousand units at any depth and locks only the rows
-- it returns (a LIMIT computed by a subquery hid the bound: the whole queue was costed,
-- above jit_above_cost, and Postgres JIT-compiled every claim). Planning this statement
-- costs more than running it (2.4 against 0.45 ms), so it is planned once per connection:
-- a prepared statement (api/db/defineQuery.ts) with a generic plan, which the claim's
-- transaction asks for (plan_cache_mode, set by the lock statement before it: Postgres
-- would otherwise keep planning it for each call, since a generic plan, blind to
-- :max_jobs, is costed above a custom one). The generic plan is the custom plan's shape:
-- the same index scan, hash joins over the claim's few miners.
-- `EXPLAIN EXECUTE` of a `PREPARE`d copy under `SET plan_cache_mode = force_generic_plan`
-- shows it. Slots that a miner cannot
-- use pick a job that stays queued (assigned drops it): a few extra row locks for one
-- statement. Heads no miner can take are kept off the index's front: a backing-off retry
-- re-enters at its run_after (mia.job_give_back moves its fair_at there).
--
-- Probation (migration 0090): a miner with fewer than :probation_jobs credited jobs
-- (mia.on_probation) gets at most :probation_slots, whatever slots it registered
-- (sql/miner_standing.sql tells the claim route the same room). Its claim marks the job
-- drop_free (while the job has had fewer than :probation_free_drops free drops): if it
-- gives the job back unanswered, the attempt does not count (mia.attempt_counts).
--
-- Models (migration 0121): a job that names a model goes only to a miner serving it
-- (miners.model); one for any model (NULL) goes to any miner.
--
-- Pools (migration 0170): a restricted job (jobs.pool: 'verified', 'trusted' or
-- 'own:<business>', copied from its business at submit) goes only to a miner holding that
-- key (`keys` below: miners the operator trusts hold 'trusted' and 'verified', miners
-- verified for the model they serve hold 'verified'). A business's own miners hold
-- 'own:<business>' and nothing else: they work for that business only (no open jobs, no
-- other pool), since its enrolment token admitted them without the operator. Two picks, each an index scan with LIMIT :max_jobs: open jobs from
-- jobs_claim_idx (pool IS NULL, a filter on the row read), restricted jobs per key from
-- jobs_pool_claim_idx. Placing is a small matching: restricted jobs first, each to the
-- earliest free slot of a qualifying miner (pool_match, at most :max_jobs steps: a miner
-- serves its pool before the open queue); open jobs then take the slots left exactly as
-- before. Picked jobs left unplaced stay queued (their row locks end with the statement).
--
-- Retries move on: a job goes to none of the miners of this claim that already tried
-- it (attempted_by) while an online, unsuspended miner that has not tried it exists,
-- for at most :retry_avoid_s after it became claimable again (that miner may be unable
-- to take it, or busy for long); a lone miner retries its own failure at once. Cheap
-- for the common row: attempted_by is empty, and the miners look-up runs only for a
-- retried job this claim's miners already tried.
WITH wanted AS (
  SELECT w.miner_id, w.ord, row_number() OVER (PARTITION BY w.miner_id ORDER BY w.ord) AS nth
  FROM unnest(:miner_ids::uuid[]) WITH ORDINALITY AS w(miner_id, ord)
), standing AS (
  SELECT m.id, m.slots, coalesce(m.context_length, 2147483647) AS ctx, m.model,
         mia.on_probation(m.id, :probation_jobs::int) AS probation,
         m.owner_business_id IS NOT NULL AS own,
         CASE WHEN m.owner_business_id IS NOT NULL THEN ARRAY['own:' || m.owner_business_id::text]
              ELSE array_remove(ARRAY[
                CASE WHEN m.operator_trusted THEN 'trusted' END,
                CASE WHEN m.operator_trusted OR EXISTS (SELECT 1 FROM mia.miner_verifications AS v
                                               WHERE v.miner_id = m.id AND v.model = m.model AND v.verified_at IS NOT NULL)
                     THEN 'verified' END], NULL) END AS keys
  FROM mia.miners AS m
  WHERE m.id IN (SELECT miner_id FROM wanted)
), room AS (
  SELECT s.id, s.ctx, s.model, s.probation, s.own, s.keys,
         CASE WHEN s.probation THEN least(s.slots, :probation_slots::int) ELSE s.slots END
         - (SELECT count(*) FROM mia.jobs AS r WHERE r.miner_id = s.id AND r.status = 'running') AS free
  FROM standing AS s
), allowed AS (
  SELECT w.miner_id, w.ord, r.ctx, r.model, r.probation, r.own, r.keys
  FROM wanted AS w JOIN room AS r ON r.id = w.miner_id
  WHERE w.nth <= r.free
), picked_open AS (
  SELECT * FROM (
  SELECT id, priority, fair_at, coalesce(need_tokens, 0) AS need, model, pool
  FROM mia.jobs
  -- Matches the partial index jobs_claim_idx (WHERE status = 'queued', ORDER BY priority, fair_at).
  WHERE status = 'queued' AND run_after <= now() AND pool IS NULL
    -- Not for a claim of own miners only (a one-time filter).
    AND EXISTS (SELECT 1 FROM allowed AS a WHERE NOT a.own)
    -- Too big for every miner of this claim: left for a bigger one (or its queue deadline).
    AND coalesce(need_tokens, 0) <= (SELECT max(ctx) FROM allowed)
    -- A job that names a model only for a claim with a miner serving it (migration 0121).
    AND (model IS NULL OR model IN (SELECT a.model FROM allowed AS a WHERE a.model IS NOT NULL))
    AND (cardinality(attempted_by) = 0
         OR NOT attempted_by && :miner_ids::uuid[]
         OR run_after <= now() - make_interval(secs => :retry_avoid_s::double precision)
         OR NOT EXISTS (SELECT 1 FROM mia.miners AS other
                        WHERE other.status IN ('idle', 'busy') AND other.suspended_at IS NULL
                          AND other.id <> ALL (mia.jobs.attempted_by)))
  ORDER BY priority, fair_at
  LIMIT 256
  FOR UPDATE SKIP LOCKED
  ) AS head
  LIMIT :max_jobs::int
), picked_pool AS (
  -- Restricted jobs (migration 0170), per pool key a miner of this claim holds, from the
  -- head of that pool in jobs_pool_claim_idx (pool, priority, fair_at): an outsider's claim
  -- (no keys) reads nothing here, and restricted jobs waiting for their miners never take
  -- the open pick's rows, so they cannot leave the other miners of a claim without work.
  SELECT p.*
  FROM (SELECT DISTINCT k FROM allowed AS a, unnest(a.keys) AS k) AS claim_key
  CROSS JOIN LATERAL (
    SELECT * FROM (
    SELECT j.id, j.priority, j.fair_at, coalesce(j.need_tokens, 0) AS need, j.model, j.pool
    FROM mia.jobs AS j
    WHERE j.status = 'queued' AND j.pool = claim_key.k AND j.run_after <= now()
      AND coalesce(j.need_tokens, 0) <= (SELECT max(ctx) FROM allowed)
      AND (j.model IS NULL OR j.model IN (SELECT a.model FROM allowed AS a WHERE a.model IS NOT NULL))
      AND (cardinality(j.attempted_by) = 0
           OR NOT j.attempted_by && :miner_ids::uuid[]
           OR j.run_after <= now() - make_interval(secs => :retry_avoid_s::double precision)
           OR NOT EXISTS (SELECT 1 FROM mia.miners AS other
                          WHERE other.status IN ('idle', 'busy') AND other.suspended_at IS NULL
                            AND other.id <> ALL (j.attempted_by)))
    ORDER BY j.priority, j.fair_at
    LIMIT 256
    FOR UPDATE OF j SKIP LOCKED
    ) AS head
    LIMIT :max_jobs::int
  ) AS p
), picked AS (
  SELECT * FROM picked_open
  UNION ALL
  SELECT * FROM picked_pool
), restricted AS (
  SELECT id, need, model, pool, row_number() OVER (ORDER BY priority, fair_at) AS n
  FROM picked WHERE pool IS NOT NULL
), pool_match AS (
  -- Restricted jobs in queue order, each to the first free slot (by ord) of a miner of its
  -- pool, model and context; `taken` carries the slots placed so far.
  WITH RECURSIVE step (n, id, miner_id, ord, probation, taken) AS (
    SELECT 0::bigint, NULL::uuid, NULL::uuid, NULL::bigint, NULL::boolean, ARRAY[]::bigint[]
    UNION ALL
    SELECT r.n, r.id, s.miner_id, s.ord, s.probation, st.taken || coalesce(s.ord, -1)
    FROM step AS st
    JOIN restricted AS r ON r.n = st.n + 1
    LEFT JOIN LATERAL (
      SELECT a.miner_id, a.ord, a.probation FROM allowed AS a
      WHERE r.pool = ANY (a.keys) AND (r.model IS NULL OR a.model = r.model) AND r.need <= a.ctx
        AND a.ord <> ALL (st.taken)
      ORDER BY a.ord LIMIT 1) AS s ON true
  )
  SELECT id, miner_id, ord, probation FROM step WHERE miner_id IS NOT NULL
), open_slots AS (
  SELECT * FROM allowed WHERE NOT own AND ord NOT IN (SELECT ord FROM pool_match)
), jobs_by_need AS (
  -- Jobs that name a model are placed first, among the slots of miners serving it
  -- (ranked within each model); jobs for any model then take the slots left.
  SELECT id, need, model, row_number() OVER (PARTITION BY model ORDER BY need DESC, priority, fair_at) AS k
  FROM picked WHERE pool IS NULL
), miners_by_ctx AS (
  SELECT miner_id, ord, ctx, model, probation, row_number() OVER (PARTITION BY model ORDER BY ctx DESC, ord) AS k FROM open_slots
), assigned_model AS (
  SELECT j.id, m.miner_id, m.ord, m.probation
  FROM jobs_by_need AS j JOIN miners_by_ctx AS m ON m.model = j.model AND m.k = j.k
  WHERE j.need <= m.ctx
), any_jobs AS (
  SELECT id, need, k FROM jobs_by_need WHERE model IS NULL
), free_slots AS (
  SELECT a.miner_id, a.ctx, a.probation, row_number() OVER (ORDER BY a.ctx DESC, a.ord) AS k
  FROM open_slots AS a
  WHERE a.ord NOT IN (SELECT ord FROM assigned_model)
), assigned AS (
  -- Biggest job to the biggest context, and so on down: if the picked jobs can all be
  -- placed, this places them. One that does not fit its miner (or finds no miner of its
  -- model in this claim) stays queued (its row lock ends with this statement's transaction).
  SELECT id, miner_id, probation FROM pool_match
  UNION ALL
  SELECT id, miner_id, probation FROM assigned_model
  UNION ALL
  SELECT j.id, m.miner_id, m.probation
  FROM any_jobs AS j JOIN free_slots AS m USING (k)
  WHERE j.need <= m.ctx
), claimed AS (
  UPDATE mia.jobs AS j
  SET status           = 'running',
      miner_id         = a.miner_id,
      attempted_by     = CASE WHEN a.miner_id = ANY (j.attempted_by) THEN j.attempted_by
                              ELSE array_append(j.attempted_by, a.miner_id) END,
      lease_token      = gen_random_uuid(),
      -- Lease length follows max_tokens: a long answer gets a long lease.
      lease_expires_at = now() + make_interval(secs => :lease_base_s::double precision + j.max_tokens * :lease_ms_per_token::double precision / 1000.0),
      attempts         = j.attempts + 1,
      drop_free        = a.probation AND j.free_drops < :probation_free_drops::int,
      claimed_at       = now()
  FROM assigned AS a
  WHERE j.id = a.id
  RETURNING j.id AS job_id, j.miner_id, j.prompt, j.context, j.session_id, j.business_id, j.max_tokens,
            j.temperature, j.messages, j.tools, j.tool_choice, j.sampling, j.lease_token, j.lease_expires_at,
            j.attempts, j.priority, j.created_at, j.fair_at,
            -- Dispatch latency on the database's clock, for the metrics (no read after the claim).
            extract(epoch FROM now() - j.created_at)::double precision AS waited_s,
            -- Redaction was on for the job (migration 0150): the claim hides a session id holding personal data.
            (j.pii_redacted IS NOT NULL) AS pii_redacted
)
-- In queue order (RETURNING has none: it follows the join's plan, which the two picks changed).
SELECT job_id, miner_id, prompt, context, session_id, business_id, max_tokens, temperature, messages, tools,
       tool_choice, sampling, lease_token, lease_expires_at, attempts, priority, created_at, waited_s, pii_redacted
FROM claimed
ORDER BY priority, fair_at
