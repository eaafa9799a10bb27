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
-- Plan (issue 17): :max_jobs is cardinality(:miner_ids), a plain parameter, so the planner
-- sees a LIMIT of a few rows and costs the index scan of jobs_claim_idx at a few dozen
-- units at any depth (a LIMIT computed by a subquery hid it: the whole queue was costed,
-- above jit_above_cost, and Postgres JIT-compiled every claim). Slots that a miner cannot
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
         mia.on_probation(m.id, :probation_jobs::int) AS probation
  FROM mia.miners AS m
  WHERE m.id IN (SELECT miner_id FROM wanted)
), room AS (
  SELECT s.id, s.ctx, s.model, s.probation,
         CASE WHEN s.probation THEN least(s.slots, :probation_slots::int) ELSE s.slots END
         - (SELECT count(*) FROM mia.jobs AS r WHERE r.miner_id = s.id AND r.status = 'running') AS free
  FROM standing AS s
), allowed AS (
  SELECT w.miner_id, w.ord, r.ctx, r.model, r.probation
  FROM wanted AS w JOIN room AS r ON r.id = w.miner_id
  WHERE w.nth <= r.free
), picked AS (
  SELECT id, priority, fair_at, coalesce(need_tokens, 0) AS need, model
  FROM mia.jobs
  -- Matches the partial index jobs_claim_idx (WHERE status = 'queued', ORDER BY priority, fair_at).
  WHERE status = 'queued' AND run_after <= now()
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
  LIMIT :max_jobs::int
  FOR UPDATE SKIP LOCKED
), jobs_by_need AS (
  -- Jobs that name a model are placed first, among the slots of miners serving it
  -- (ranked within each model); jobs for any model then take the slots left.
  SELECT id, need, model, row_number() OVER (PARTITION BY model ORDER BY need DESC, priority, fair_at) AS k FROM picked
), miners_by_ctx AS (
  SELECT miner_id, ord, ctx, model, probation, row_number() OVER (PARTITION BY model ORDER BY ctx DESC, ord) AS k FROM allowed
), assigned_model AS (
  SELECT j.id, m.miner_id, m.ord, m.probation
  FROM jobs_by_need AS j JOIN miners_by_ctx AS m ON m.model = j.model AND m.k = j.k
  WHERE j.need <= m.ctx
), any_jobs AS (
  SELECT id, need, k FROM jobs_by_need WHERE model IS NULL
), free_slots AS (
  SELECT a.miner_id, a.ctx, a.probation, row_number() OVER (ORDER BY a.ctx DESC, a.ord) AS k
  FROM allowed AS a
  WHERE a.ord NOT IN (SELECT ord FROM assigned_model)
), assigned AS (
  -- Biggest job to the biggest context, and so on down: if the picked jobs can all be
  -- placed, this places them. One that does not fit its miner (or finds no miner of its
  -- model in this claim) stays queued (its row lock ends with this statement's transaction).
  SELECT id, miner_id, probation FROM assigned_model
  UNION ALL
  SELECT j.id, m.miner_id, m.probation
  FROM any_jobs AS j JOIN free_slots AS m USING (k)
  WHERE j.need <= m.ctx
)
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
          j.attempts, j.priority, j.created_at,
          -- Dispatch latency on the database's clock, for the metrics (no read after the claim).
          extract(epoch FROM now() - j.created_at)::double precision AS waited_s,
          -- Redaction was on for the job (migration 0150): the claim hides a session id holding personal data.
          (j.pii_redacted IS NOT NULL) AS pii_redacted
