-- Uptime credit: every miner online now (not offline, seen within the
-- interval) and not suspended earns :credits for the current interval, if it
-- was of use in it: it completed credited work in the interval, or it could
-- have served a job that was waiting or running in it (its context_length,
-- per slot, holds that job's need_tokens; jobs name no model, so any model
-- serves). A miner whose context fits no job, or that is online while there is
-- no work at all, earns nothing: being present is not being useful, and
-- registering tiny miners to farm uptime paid. The interval is a fixed bin of
-- the clock (date_bin), and the ledger's unique (miner_id, period_start) makes
-- a second run in the same bin, on any replica, credit nothing.
WITH period AS (
  SELECT date_bin(make_interval(secs => :interval_s::float8), now(), timestamptz '2000-01-01 00:00:00+00') AS start,
         now() - make_interval(secs => :interval_s::float8) AS since
), demand AS (
  -- The smallest job of the interval: waiting or running now (jobs_claim_idx,
  -- jobs_running_lease_idx) or finished within it (jobs_finished_idx).
  SELECT min(coalesce(j.need_tokens, 0)) AS need
  FROM mia.jobs AS j
  WHERE j.status IN ('queued', 'running')
     OR (j.status IN ('completed', 'failed', 'cancelled') AND j.completed_at >= (SELECT since FROM period))
), credited AS (
  INSERT INTO mia.miner_credits (miner_id, kind, period_start, credits)
  SELECT m.id, 'uptime', p.start, :credits::numeric
  FROM mia.miners AS m CROSS JOIN period AS p CROSS JOIN demand AS d
  WHERE m.status <> 'offline' AND m.suspended_at IS NULL
    AND m.last_active >= p.since
    -- An unknown context fits anything, as in the claim (sql/job_claim.sql).
    AND (coalesce(m.context_length, 2147483647) >= d.need
         OR EXISTS (SELECT 1 FROM mia.miner_credits AS c
                    WHERE c.miner_id = m.id AND c.kind = 'job' AND c.created_at >= p.since))
  ON CONFLICT (miner_id, period_start) WHERE kind = 'uptime' DO NOTHING
  RETURNING miner_id
)
SELECT count(*)::int AS miners_credited FROM credited
