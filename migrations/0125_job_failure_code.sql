-- Up Migration
-- A miner's failure report in our words (issue 17: "llama-server errors reach businesses
-- as our error codes"). A miner is a stranger: its error text (llama-server's, or its
-- own) stays in jobs.error for the operator and the DBA, while the business is told our
-- code and our message for it (api/jobs/failureReason.ts). error_code is set only when
-- the latest reason is a miner's report ('unspecified' when an older miner sent no code)
-- and cleared when the backend gives a job back for a reason of its own, so it always
-- says whose words jobs.error holds.
ALTER TABLE mia.jobs ADD COLUMN error_code text
  CHECK (error_code IN ('context_exceeded', 'invalid_request', 'generation_error', 'timeout', 'unavailable', 'unspecified'));
COMMENT ON COLUMN mia.jobs.error_code IS
  'Set when error holds a miner''s own report: its class in our words, which the business sees instead of the miner''s text. NULL: error is the backend''s own.';

-- The one give-back transition (migration 0100) with the reported codes: p_codes, one per
-- id (NULL for the backend's own reasons, such as a refused result); and p_free: the jobs
-- are given back without counting the attempt (max_attempts + 1, like a drop on
-- probation), for jobs a miner claimed ahead and hands back unstarted
-- (sql/job_hand_back_unstarted.sql, issue 18). Unchanged otherwise.
DROP FUNCTION mia.job_give_back(uuid[], text[], double precision, boolean);
CREATE FUNCTION mia.job_give_back(p_ids uuid[], p_reasons text[], p_backoff_s double precision,
                                  p_reported boolean DEFAULT false, p_codes text[] DEFAULT NULL,
                                  p_free boolean DEFAULT false)
RETURNS TABLE (job_id uuid, status text)
LANGUAGE sql VOLATILE AS $$
  WITH given AS (
    SELECT g.id, coalesce(g.reason, p_reasons[1]) AS reason, g.code
    FROM unnest(p_ids, p_reasons, p_codes) AS g(id, reason, code)
    WHERE g.id IS NOT NULL
  ), counts AS (
    -- mia.attempt_counts, or a free drop when p_free (and the attempt would have counted).
    SELECT j.id, g.reason, g.code, j.attempts,
           c.counted AND NOT p_free AS counted,
           c.max_attempts + (p_free AND c.counted)::int AS max_attempts,
           c.free_drops + (p_free AND c.counted)::int AS free_drops,
           c.exhausted AND NOT p_free AS exhausted,
           CASE WHEN p_free THEN now() ELSE c.run_after END AS run_after,
           CASE WHEN p_free AND c.counted THEN ' (not counted: handed back unstarted)' ELSE c.note END AS note
    FROM mia.jobs AS j JOIN given AS g ON g.id = j.id, LATERAL mia.attempt_counts(j) AS c
    WHERE j.status = 'running'
  ), rule AS (
    SELECT c.id, c.reason, c.code, c.counted, c.max_attempts, c.free_drops, c.exhausted, c.note,
           CASE WHEN c.exhausted OR NOT c.counted OR p_backoff_s <= 0 THEN c.run_after
                ELSE now() + make_interval(secs => least(60, p_backoff_s * power(2, greatest(c.attempts - 1, 0))))
           END AS run_after
    FROM counts AS c
  )
  UPDATE mia.jobs AS j
  SET status           = CASE WHEN r.exhausted THEN 'failed' ELSE 'queued' END,
      error            = CASE WHEN p_reported THEN r.reason || r.note
                              ELSE 'attempt ' || j.attempts || ' of ' || r.max_attempts || r.note || ': ' || r.reason END,
      error_code       = CASE WHEN p_reported THEN r.code END,
      max_attempts     = r.max_attempts,
      free_drops       = r.free_drops,
      run_after        = r.run_after,
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
COMMENT ON FUNCTION mia.job_give_back(uuid[], text[], double precision, boolean, text[], boolean) IS
  'Give running jobs back without an answer: requeue (with backoff) or dead-letter, the attempt counted unless the holder was on probation. The one transition for reaper, offline marker, heartbeat drop, release, failure report and unstarted hand-back; p_codes: the reported failures'' classes (jobs.error_code); p_free: not counted.';

-- Operator repair (migration 0100) also clears the code with the error.
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
      run_after = now(), fair_at = now(), error = NULL, error_code = NULL, completed_at = NULL
  WHERE j.id = requeue_job.job_id AND j.status IN ('running', 'failed', 'cancelled');
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT j.status INTO current_status FROM mia.jobs AS j WHERE j.id = requeue_job.job_id;
  RAISE NOTICE 'job % not requeued: %', requeue_job.job_id, coalesce('it is ' || current_status, 'no such job');
  RETURN false;
END $$;

-- Down Migration
-- Back to migration 0100's versions.
DROP FUNCTION mia.job_give_back(uuid[], text[], double precision, boolean, text[], boolean);
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

ALTER TABLE mia.jobs DROP COLUMN error_code;
