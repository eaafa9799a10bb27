-- Up Migration
-- The claim's update (mia.claim_jobs, migration 0180) found the jobs it had picked by
-- joining them to mia.jobs with nothing else to go on, and the planner, costing the
-- picks as ~100 rows (the placing's recursive CTE), hashed them against a sequential
-- scan of mia.jobs wherever that scan looked cheap: on a young or freshly purged table.
-- The plan is generic and kept per connection, so every claim read the whole table,
-- and paid more as the table grew until autovacuum's next ANALYZE re-planned it: a
-- dispatcher round for 8 miners and one job, alone on PostgreSQL 15, went from 1.84 to
-- 3.93 ms p50 over 3,000 jobs (1.66 to 1.89 ms, not growing, with this). The same join, now also
-- bounded by `j.id = ANY (ARRAY(SELECT id FROM assigned))`: an index condition on the
-- primary key whose few ids the planner sees, so the update reads the picked rows by id
-- at any table size. Nothing else changed.
CREATE OR REPLACE FUNCTION mia.claim_jobs(
  p_miner_ids uuid[],
  p_lease_base_s double precision,
  p_lease_ms_per_token double precision,
  p_retry_avoid_s double precision,
  p_probation_jobs integer,
  p_probation_slots integer,
  p_probation_free_drops integer,
  p_hold_hours integer
) RETURNS TABLE (
  job_id uuid, miner_id uuid, prompt text, context text, session_id text, business_id uuid,
  max_tokens integer, temperature double precision, messages jsonb, tools jsonb, tool_choice jsonb,
  sampling jsonb, lease_token uuid, lease_expires_at timestamptz, attempts integer, priority smallint,
  created_at timestamptz, waited_s double precision, pii_redacted boolean
)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
BEGIN
  -- Generic plan up to 64 slots, custom above: a generic plan, blind to the number of
  -- slots, costs the claim's joins for ten, which is right for a miner's own claim and
  -- for most dispatcher rounds, and twice too slow for a round of 200 parked miners
  -- (47 against 23 ms; 10.5 against 12.9 ms at 64, 2.3 against 4.8 ms at 8).
  PERFORM set_config('plan_cache_mode',
                     CASE WHEN cardinality(p_miner_ids) <= 64 THEN 'force_generic_plan' ELSE 'force_custom_plan' END, true),
          set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock(k)
  FROM (SELECT DISTINCT hashtextextended(m::text, 17) AS k
        FROM unnest(p_miner_ids) AS t(m)
        ORDER BY k) AS keys;
  RETURN QUERY
    WITH wanted AS (
      SELECT w.miner_id, w.ord, row_number() OVER (PARTITION BY w.miner_id ORDER BY w.ord) AS nth
      FROM unnest(p_miner_ids) WITH ORDINALITY AS w(miner_id, ord)
    ), standing AS (
      SELECT m.id, m.slots, m.suspended_at, coalesce(m.context_length, 2147483647) AS ctx, m.model,
             mia.on_probation(m.id, p_probation_jobs) AS probation,
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
      -- Suspended or held miners have no room (the claim route then reads why:
      -- sql/miner_standing.sql). In the select list, so it runs for the claim's miners
      -- only: as a WHERE condition the planner ran it on every row of mia.miners.
      SELECT s.id, s.ctx, s.model, s.probation, s.own, s.keys,
             CASE WHEN s.suspended_at IS NOT NULL OR mia.miner_held(s.id, p_hold_hours) THEN 0
                  ELSE CASE WHEN s.probation THEN least(s.slots, p_probation_slots) ELSE s.slots END
                       - (SELECT count(*) FROM mia.jobs AS r WHERE r.miner_id = s.id AND r.status = 'running') END AS free
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
             OR NOT attempted_by && p_miner_ids
             OR run_after <= now() - make_interval(secs => p_retry_avoid_s)
             OR NOT EXISTS (SELECT 1 FROM mia.miners AS other
                            WHERE other.status IN ('idle', 'busy') AND other.suspended_at IS NULL
                              AND other.id <> ALL (mia.jobs.attempted_by)))
      ORDER BY priority, fair_at
      LIMIT 256
      FOR UPDATE SKIP LOCKED
      ) AS head
      LIMIT cardinality(p_miner_ids)
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
               OR NOT j.attempted_by && p_miner_ids
               OR j.run_after <= now() - make_interval(secs => p_retry_avoid_s)
               OR NOT EXISTS (SELECT 1 FROM mia.miners AS other
                              WHERE other.status IN ('idle', 'busy') AND other.suspended_at IS NULL
                                AND other.id <> ALL (j.attempted_by)))
        ORDER BY j.priority, j.fair_at
        LIMIT 256
        FOR UPDATE OF j SKIP LOCKED
        ) AS head
        LIMIT cardinality(p_miner_ids)
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
          lease_expires_at = now() + make_interval(secs => p_lease_base_s + j.max_tokens * p_lease_ms_per_token / 1000.0),
          attempts         = j.attempts + 1,
          drop_free        = a.probation AND j.free_drops < p_probation_free_drops,
          claimed_at       = now()
      FROM assigned AS a
      -- By id through the primary key, whatever the estimate of `assigned` (migration 0194).
      WHERE j.id = a.id AND j.id = ANY (ARRAY(SELECT id FROM assigned))
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
    ORDER BY priority, fair_at;
END
$fn$;

-- Down Migration
CREATE OR REPLACE FUNCTION mia.claim_jobs(
  p_miner_ids uuid[],
  p_lease_base_s double precision,
  p_lease_ms_per_token double precision,
  p_retry_avoid_s double precision,
  p_probation_jobs integer,
  p_probation_slots integer,
  p_probation_free_drops integer,
  p_hold_hours integer
) RETURNS TABLE (
  job_id uuid, miner_id uuid, prompt text, context text, session_id text, business_id uuid,
  max_tokens integer, temperature double precision, messages jsonb, tools jsonb, tool_choice jsonb,
  sampling jsonb, lease_token uuid, lease_expires_at timestamptz, attempts integer, priority smallint,
  created_at timestamptz, waited_s double precision, pii_redacted boolean
)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
BEGIN
  -- Generic plan up to 64 slots, custom above: a generic plan, blind to the number of
  -- slots, costs the claim's joins for ten, which is right for a miner's own claim and
  -- for most dispatcher rounds, and twice too slow for a round of 200 parked miners
  -- (47 against 23 ms; 10.5 against 12.9 ms at 64, 2.3 against 4.8 ms at 8).
  PERFORM set_config('plan_cache_mode',
                     CASE WHEN cardinality(p_miner_ids) <= 64 THEN 'force_generic_plan' ELSE 'force_custom_plan' END, true),
          set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock(k)
  FROM (SELECT DISTINCT hashtextextended(m::text, 17) AS k
        FROM unnest(p_miner_ids) AS t(m)
        ORDER BY k) AS keys;
  RETURN QUERY
    WITH wanted AS (
      SELECT w.miner_id, w.ord, row_number() OVER (PARTITION BY w.miner_id ORDER BY w.ord) AS nth
      FROM unnest(p_miner_ids) WITH ORDINALITY AS w(miner_id, ord)
    ), standing AS (
      SELECT m.id, m.slots, m.suspended_at, coalesce(m.context_length, 2147483647) AS ctx, m.model,
             mia.on_probation(m.id, p_probation_jobs) AS probation,
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
      -- Suspended or held miners have no room (the claim route then reads why:
      -- sql/miner_standing.sql). In the select list, so it runs for the claim's miners
      -- only: as a WHERE condition the planner ran it on every row of mia.miners.
      SELECT s.id, s.ctx, s.model, s.probation, s.own, s.keys,
             CASE WHEN s.suspended_at IS NOT NULL OR mia.miner_held(s.id, p_hold_hours) THEN 0
                  ELSE CASE WHEN s.probation THEN least(s.slots, p_probation_slots) ELSE s.slots END
                       - (SELECT count(*) FROM mia.jobs AS r WHERE r.miner_id = s.id AND r.status = 'running') END AS free
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
             OR NOT attempted_by && p_miner_ids
             OR run_after <= now() - make_interval(secs => p_retry_avoid_s)
             OR NOT EXISTS (SELECT 1 FROM mia.miners AS other
                            WHERE other.status IN ('idle', 'busy') AND other.suspended_at IS NULL
                              AND other.id <> ALL (mia.jobs.attempted_by)))
      ORDER BY priority, fair_at
      LIMIT 256
      FOR UPDATE SKIP LOCKED
      ) AS head
      LIMIT cardinality(p_miner_ids)
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
               OR NOT j.attempted_by && p_miner_ids
               OR j.run_after <= now() - make_interval(secs => p_retry_avoid_s)
               OR NOT EXISTS (SELECT 1 FROM mia.miners AS other
                              WHERE other.status IN ('idle', 'busy') AND other.suspended_at IS NULL
                                AND other.id <> ALL (j.attempted_by)))
        ORDER BY j.priority, j.fair_at
        LIMIT 256
        FOR UPDATE OF j SKIP LOCKED
        ) AS head
        LIMIT cardinality(p_miner_ids)
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
          lease_expires_at = now() + make_interval(secs => p_lease_base_s + j.max_tokens * p_lease_ms_per_token / 1000.0),
          attempts         = j.attempts + 1,
          drop_free        = a.probation AND j.free_drops < p_probation_free_drops,
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
    ORDER BY priority, fair_at;
END
$fn$;
