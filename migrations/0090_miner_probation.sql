-- Up Migration
-- New identities are on probation (issue 16, README "Miners are strangers"). Registering
-- is cheap: three fresh miners asking for 100 slots each, batch-claiming and reporting
-- `offline`, dead-lettered 57 of 60 honest jobs in 3 s, each drop burning an attempt.
-- Now a miner is on probation until it has N credited jobs (MIA_PROBATION_JOBS): it gets
-- at most MIA_PROBATION_SLOTS jobs at a time (sql/job_claim.sql), and a job it gives
-- back without an answer (offline release, dropped from a heartbeat, expired lease,
-- reported failure) does not use up one of the job's attempts.

-- On probation: fewer than p_jobs credited jobs (ledger rows of kind 'job': accepted with
-- no suspicion; lies earn no row, so they do not end probation). Reads at most p_jobs rows
-- of miner_credits_miner_idx, so a veteran costs as little as a newcomer. Used by the claim
-- (sql/job_claim.sql) and by the claim route's standing (sql/miner_standing.sql).
CREATE FUNCTION mia.on_probation(p_miner_id uuid, p_jobs integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT count(*) < p_jobs
  FROM (SELECT 1 FROM mia.miner_credits WHERE miner_id = p_miner_id AND kind = 'job' LIMIT p_jobs) AS done
$$;
COMMENT ON FUNCTION mia.on_probation(uuid, integer) IS
  'Whether a miner has fewer than p_jobs credited jobs (MIA_PROBATION_JOBS): it then gets at most MIA_PROBATION_SLOTS jobs and its drops are free.';

-- Whether a drop of the current attempt is free: decided by the claim (the miner was on
-- probation and the job had free drops left), so the five statements that give a job
-- back need no configuration and no look-up of the miner: the job carries its rule.
ALTER TABLE mia.jobs
  ADD COLUMN drop_free  boolean NOT NULL DEFAULT false,
  -- Free drops so far; max_attempts was raised by this many. The claim grants a free
  -- drop only below MIA_PROBATION_FREE_DROPS, so a job cannot cycle forever through an
  -- endless supply of new identities.
  ADD COLUMN free_drops integer NOT NULL DEFAULT 0 CHECK (free_drops >= 0);

COMMENT ON COLUMN mia.jobs.drop_free IS
  'Set by the claim: the holder is a miner on probation, so giving this attempt back does not use up an attempt (max_attempts is raised by one instead).';
COMMENT ON COLUMN mia.jobs.free_drops IS
  'Attempts given back by miners on probation that did not count (max_attempts was raised by one for each).';

-- The one rule for a job given back without an answer, used by sql/miner_release_jobs.sql,
-- miner_mark_offline.sql, miner_heartbeat_jobs.sql, job_reap_expired.sql and
-- job_fail_attempt.sql. `attempts` is never lowered: credits, suspicions and deltas are
-- keyed by (job_id, attempt), so a free attempt raises max_attempts instead.
--   counted:      false when the drop is free;
--   max_attempts, free_drops: the job's new values;
--   exhausted:    the job has used max_attempts and is dead-lettered ('failed');
--   run_after:    a free drop is claimable at once (and the claim's avoidance of the
--                 miners that tried it starts now); a counted one keeps its run_after
--                 (job_fail_attempt.sql adds its backoff);
--   note:         appended to the job's error text.
CREATE FUNCTION mia.attempt_counts(
  j mia.jobs,
  OUT counted boolean, OUT max_attempts integer, OUT free_drops integer, OUT exhausted boolean,
  OUT run_after timestamptz, OUT note text)
LANGUAGE sql STABLE AS $$
  SELECT NOT j.drop_free,
         j.max_attempts + j.drop_free::int,
         j.free_drops + j.drop_free::int,
         NOT j.drop_free AND j.attempts >= j.max_attempts,
         CASE WHEN j.drop_free THEN now() ELSE j.run_after END,
         CASE WHEN j.drop_free THEN ' (not counted: its miner is on probation)' ELSE '' END
$$;
COMMENT ON FUNCTION mia.attempt_counts(mia.jobs) IS
  'How a running job given back without an answer counts: free for a miner on probation (max_attempts + 1), else the attempt is used up.';

-- Who registered a miner, as the API saw the connection (req.ip: the peer, or the client
-- named by a trusted proxy; never the self-reported ip_address). A new identity
-- registered from the address of a recently suspended miner is held (sql/miner_standing.sql)
-- until the hold passes or the operator reinstates it. NULL: registered by the operator.
ALTER TABLE mia.miners ADD COLUMN registered_from text;
-- The hold's look-up: suspended miners by address (few rows).
CREATE INDEX miners_suspended_from_idx ON mia.miners (registered_from, suspended_at) WHERE suspended_at IS NOT NULL;

COMMENT ON COLUMN mia.miners.registered_from IS
  'Address the registration came from (not the self-reported ip_address); NULL when the operator registered it.';

-- Down Migration
DROP INDEX mia.miners_suspended_from_idx;
ALTER TABLE mia.miners DROP COLUMN registered_from;
DROP FUNCTION mia.attempt_counts(mia.jobs);
DROP FUNCTION mia.on_probation(uuid, integer);
ALTER TABLE mia.jobs DROP COLUMN free_drops, DROP COLUMN drop_free;
