-- Up Migration
-- The queue at real depth (issue 17): one give-back transition, a requeue that never
-- reuses an attempt number, and fair spacing that holds under parallel submission.

-- The one transition for a running job given back without an answer: used by
-- sql/job_reap_expired.sql (lease expired), miner_mark_offline.sql (miner silent),
-- miner_heartbeat_jobs.sql (dropped from a heartbeat), miner_release_jobs.sql (miner went
-- offline) and job_fail_attempt.sql (miner reported a failure), so they agree on every
-- detail. The caller picks and locks the jobs (its own order and SKIP LOCKED rules); only
-- rows still running are changed. The rule, once:
--   * the attempt counts unless the holder was on probation (mia.attempt_counts); a job
--     that has used max_attempts is dead-lettered ('failed');
--   * error: always the latest reason: a drop the backend observed as 'attempt N of M:
--     <reason>', a failure the miner reported in its own words (the business reads it);
--     either with the probation note. p_reasons: one per id, or one for all;
--   * a dead-lettered job keeps its holder, lease token and claimed_at for the
--     post-mortem (a late result is refused: the job is not running); a requeued one
--     clears them, so nothing of the old attempt looks current;
--   * backoff: a counted attempt that goes back waits p_backoff_s * 2^(attempts-1)
--     (at most 60 s; 0: claimable at once); a free drop is claimable at once. A job that
--     backs off has its fair_at moved to run_after, so a backing-off retry sits in jobs_claim_idx among the jobs
--     submitted when it becomes claimable, never at the head that every claim would
--     otherwise filter past (issue 17: 20,000 such heads cost 10x per claim).
CREATE FUNCTION mia.job_give_back(p_ids uuid[], p_reasons text[], p_backoff_s double precision,
                                  p_reported boolean DEFAULT false)
RETURNS TABLE (job_id uuid, status text)
LANGUAGE sql VOLATILE AS $$
  WITH given AS (
    SELECT g.id, coalesce(g.reason, p_reasons[1]) AS reason
    FROM unnest(p_ids, p_reasons) AS g(id, reason)
    WHERE g.id IS NOT NULL
  ), rule AS (
    SELECT j.id, g.reason, c.counted, c.max_attempts, c.free_drops, c.exhausted, c.note,
           CASE WHEN c.exhausted OR NOT c.counted OR p_backoff_s <= 0 THEN c.run_after
                ELSE now() + make_interval(secs => least(60, p_backoff_s * power(2, greatest(j.attempts - 1, 0))))
           END AS run_after
    FROM mia.jobs AS j JOIN given AS g ON g.id = j.id, LATERAL mia.attempt_counts(j) AS c
    WHERE j.status = 'running'
  )
  UPDATE mia.jobs AS j
  SET status           = CASE WHEN r.exhausted THEN 'failed' ELSE 'queued' END,
      error            = CASE WHEN p_reported THEN r.reason || r.note
                              ELSE 'attempt ' || j.attempts || ' of ' || r.max_attempts || r.note || ': ' || r.reason END,
      max_attempts     = r.max_attempts,
      free_drops       = r.free_drops,
      run_after        = r.run_after,
      -- Only a backoff moves the job's place; a job claimable at once keeps it.
      fair_at          = CASE WHEN r.run_after > now() THEN greatest(j.fair_at, r.run_after) ELSE j.fair_at END,
      miner_id         = CASE WHEN r.exhausted THEN j.miner_id END,
      lease_token      = CASE WHEN r.exhausted THEN j.lease_token END,
      lease_expires_at = NULL,
      claimed_at       = CASE WHEN r.exhausted THEN j.claimed_at END,
      completed_at     = CASE WHEN r.exhausted THEN now() END
  FROM rule AS r
  WHERE j.id = r.id
  RETURNING j.id, j.status
$$;
COMMENT ON FUNCTION mia.job_give_back(uuid[], text[], double precision, boolean) IS
  'Give running jobs back without an answer: requeue (with backoff) or dead-letter, the attempt counted unless the holder was on probation. The one transition for reaper, offline marker, heartbeat drop, release and failure report.';

-- Operator repair. Attempt numbers are never reused: credits, suspicions and deltas are
-- keyed by (job_id, attempt), and a reset to 0 made the next miner's credit collide with
-- the first one's and be dropped. Instead the job gets more attempts: a failed or
-- cancelled job its configured number again (max_attempts less the free drops), a stuck
-- running one one more. The per-attempt figures are cleared, and a job with a queue
-- deadline gets a fresh one as long as the first (the old one has usually passed: the
-- deadline run would fail it again at once).
CREATE OR REPLACE FUNCTION mia.requeue_job(job_id uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  current_status text;
BEGIN
  UPDATE mia.jobs AS j
  SET status = 'queued',
      max_attempts = CASE WHEN j.status = 'running' THEN greatest(j.max_attempts, j.attempts + 1)
                          ELSE j.attempts + greatest(j.max_attempts - j.free_drops, 1) END,
      miner_id = NULL, lease_token = NULL, lease_expires_at = NULL, claimed_at = NULL,
      drop_free = false, output = NULL, tool_calls = NULL,
      tokens_generated = NULL, prompt_tokens = NULL, tokens_reported = NULL, prompt_tokens_reported = NULL,
      queue_deadline = now() + (j.queue_deadline - j.created_at),
      run_after = now(), fair_at = now(), error = NULL, completed_at = NULL
  WHERE j.id = requeue_job.job_id AND j.status IN ('running', 'failed', 'cancelled');
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT j.status INTO current_status FROM mia.jobs AS j WHERE j.id = requeue_job.job_id;
  RAISE NOTICE 'job % not requeued: %', requeue_job.job_id, coalesce('it is ' || current_status, 'no such job');
  RETURN false;
END $$;
COMMENT ON FUNCTION mia.requeue_job(uuid) IS
  'Requeue a running (stuck), failed or cancelled job with a fresh attempt number and queue deadline; wakes waiting miners. Returns false (with a NOTICE) if nothing changed.';

-- Fair spacing (migration 0070) read max(fair_at) of the business's queued jobs without a
-- lock: 40 parallel submitters all saw the same maximum and 2,000 jobs got 488 distinct
-- places. The business's clock is now one row that each submit advances with an upsert
-- (sql/job_create.sql): ON CONFLICT DO UPDATE waits for a concurrent submit of the same
-- business and reads its committed value, so places are handed out one after another.
-- Its own table, not a column of mia.businesses: the submit also updates the business
-- row (the budget reservation) and one statement cannot update a row twice. Lock order
-- (sql/LOCK_ORDER.md): locked before the new job is inserted, and never after a job.
CREATE TABLE mia.business_fair_clocks (
  business_id uuid PRIMARY KEY REFERENCES mia.businesses (id) ON DELETE CASCADE,
  last_fair_at timestamptz NOT NULL
);
COMMENT ON TABLE mia.business_fair_clocks IS
  'Fair queueing: the fair_at given to each business''s latest submitted job; the next one goes MIA_FAIR_SPACING_MS after it (or at now(), if later).';
INSERT INTO mia.business_fair_clocks (business_id, last_fair_at)
SELECT business_id, max(fair_at) FROM mia.jobs WHERE status = 'queued' GROUP BY business_id;

-- Down Migration
DROP TABLE mia.business_fair_clocks;
CREATE OR REPLACE FUNCTION mia.requeue_job(job_id uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  current_status text;
BEGIN
  UPDATE mia.jobs
  SET status = 'queued',
      attempts = CASE WHEN status = 'running' THEN least(attempts, max_attempts - 1) ELSE 0 END,
      miner_id = NULL, lease_token = NULL, lease_expires_at = NULL,
      run_after = now(), error = NULL, completed_at = NULL
  WHERE id = requeue_job.job_id AND status IN ('running', 'failed', 'cancelled');
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT status INTO current_status FROM mia.jobs WHERE id = requeue_job.job_id;
  RAISE NOTICE 'job % not requeued: %', requeue_job.job_id, coalesce('it is ' || current_status, 'no such job');
  RETURN false;
END $$;
COMMENT ON FUNCTION mia.requeue_job(uuid) IS
  'Requeue a running (stuck), failed or cancelled job; wakes waiting miners. Returns false (with a NOTICE) if nothing changed.';
DROP FUNCTION mia.job_give_back(uuid[], text[], double precision, boolean);
