-- Up Migration
-- A claim when nothing is queued answers at once. Most claims that find nothing are of an
-- idle fleet: a miner's re-poll after its job or after its long-poll timed out (10,000
-- parked miners with `wait=30` re-poll about 330 times a second), and the rounds the other
-- API processes run on a NOTIFY for a job one of them took. Each ran the whole claim
-- (mia.claim_jobs, migrations 0180 and 0194): the advisory locks, every claiming miner's
-- standing, and the start-up of a plan of some eighty nodes, to find nothing. On a
-- 3,000-job table on PostgreSQL 15, a one-miner claim with nothing queued took 0.56-0.65 ms
-- p50 from the client; with this 0.24-0.28 ms, and a claim that finds a job is unchanged
-- (1.1-1.4 ms for a round of 8 miners, both).
--
-- The claim keeps its name and its columns: mia.claim_jobs first asks whether any job is
-- queued, open or restricted, each through its own partial claim index (jobs_claim_idx,
-- jobs_pool_claim_idx: the first entry answers), and only then runs the claim, renamed
-- mia.claim_queued_jobs. A queued job it cannot take (backing off, too big, another
-- model's) still runs the whole claim, which decides. A job committed after the question
-- is the next claim's, as a job committed after the claim's snapshot always was (the
-- dispatcher's wake-up generation covers both: api/queue/claimDispatcher.ts).
ALTER FUNCTION mia.claim_jobs(uuid[], double precision, double precision, double precision, integer, integer, integer, integer)
  RENAME TO claim_queued_jobs;
COMMENT ON FUNCTION mia.claim_queued_jobs(uuid[], double precision, double precision, double precision, integer, integer, integer, integer) IS
  'The claim itself (migrations 0180, 0194), called by mia.claim_jobs when a job is queued (migration 0195).';

CREATE FUNCTION mia.claim_jobs(
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
) LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM mia.jobs AS j WHERE j.status = 'queued' AND j.pool IS NULL)
     AND NOT EXISTS (SELECT 1 FROM mia.jobs AS j WHERE j.status = 'queued' AND j.pool IS NOT NULL) THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT * FROM mia.claim_queued_jobs(p_miner_ids, p_lease_base_s, p_lease_ms_per_token, p_retry_avoid_s,
                                        p_probation_jobs, p_probation_slots, p_probation_free_drops, p_hold_hours);
END
$fn$;
COMMENT ON FUNCTION mia.claim_jobs(uuid[], double precision, double precision, double precision, integer, integer, integer, integer) IS
  'Claim one queued job per element of p_miner_ids (a miner repeated for several slots), in one round trip; nothing at once when nothing is queued (migration 0195).';

-- Down Migration
DROP FUNCTION mia.claim_jobs(uuid[], double precision, double precision, double precision, integer, integer, integer, integer);
ALTER FUNCTION mia.claim_queued_jobs(uuid[], double precision, double precision, double precision, integer, integer, integer, integer)
  RENAME TO claim_jobs;
COMMENT ON FUNCTION mia.claim_jobs(uuid[], double precision, double precision, double precision, integer, integer, integer, integer) IS
  'Claim one queued job per element of p_miner_ids (a miner repeated for several slots), in one round trip; see migration 0180.';
