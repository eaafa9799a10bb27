-- Up Migration
-- What an attempt streamed, read after the result's lock is held (sql/job_stream_lock.sql).
-- The stream lock takes the job FOR UPDATE, which waits for a delta append holding the job
-- KEY SHARE (sql/job_delta_append.sql). Read in the same statement, the deltas came from
-- the statement's snapshot, taken before that wait: a batch committed while the result
-- waited was not screened, though readers may already have shown it. A miner that posts a
-- phishing batch and an honest-looking result at once got the result accepted
-- (test/streaming/streamIntegrity.test.ts, "a racing phishing batch"). A VOLATILE
-- PL/pgSQL function takes a fresh snapshot for its query, so called once the row is
-- locked it sees every batch committed before the lock, and none can come after it.
CREATE FUNCTION mia.attempt_streamed(p_job_id uuid, p_attempt integer, OUT streamed text, OUT streamed_tools jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  SELECT coalesce((SELECT string_agg(d.content, '' ORDER BY d.seq)
                   FROM mia.job_deltas AS d
                   WHERE d.job_id = p_job_id AND d.attempt = p_attempt), ''),
         coalesce((SELECT jsonb_agg(t.call ORDER BY d.seq, t.n)
                   FROM mia.job_deltas AS d
                   CROSS JOIN LATERAL jsonb_array_elements(d.tool_calls) WITH ORDINALITY AS t(call, n)
                   WHERE d.job_id = p_job_id AND d.attempt = p_attempt AND d.tool_calls IS NOT NULL), '[]'::jsonb)
  INTO streamed, streamed_tools;
END
$$;
COMMENT ON FUNCTION mia.attempt_streamed(uuid, integer) IS
  'The text and tool-call deltas one attempt streamed, in a snapshot of its own: call it after locking the job (migration 0190).';

-- Down Migration
DROP FUNCTION mia.attempt_streamed(uuid, integer);
