-- Up Migration
-- Live answers (issue 9): what a miner has generated so far, per attempt, so a
-- client on any API process can follow a job token by token and resume after
-- a lost connection. The finished answer lives in mia.jobs.output as before;
-- these rows are only the partial text of the attempt in progress.
--
-- Bounded: one attempt's rows at a time (a new attempt's first batch deletes
-- the older ones, sql/job_delta_append.sql), at most MIA_STREAM_MAX_CHARS
-- characters per attempt, deleted when the job reaches a final state (trigger
-- below) and with the job (ON DELETE CASCADE from the purge).
CREATE TABLE mia.job_deltas (
  job_id     uuid NOT NULL REFERENCES mia.jobs (id) ON DELETE CASCADE,
  attempt    integer NOT NULL,
  -- The miner's batch number within the attempt, from 0, without gaps.
  seq        integer NOT NULL CHECK (seq >= 0),
  -- Offset of `content` in the attempt's text, in UTF-16 code units (what a
  -- JavaScript client counts); the SSE id `<attempt>:<offset>` points after it.
  text_start integer NOT NULL CHECK (text_start >= 0),
  content    text NOT NULL DEFAULT '',
  -- Tool-call deltas (OpenAI's `delta.tool_calls` items) of this batch, and how
  -- many the attempt had before it.
  tool_start integer NOT NULL DEFAULT 0 CHECK (tool_start >= 0),
  tool_calls jsonb,
  PRIMARY KEY (job_id, attempt, seq)
);

-- A finished job's answer is in mia.jobs: its partial text goes at once, so
-- the table holds only the jobs being generated right now.
CREATE FUNCTION mia.drop_job_deltas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM mia.job_deltas WHERE job_id = NEW.id;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_drop_deltas_on_finish AFTER UPDATE OF status ON mia.jobs
  FOR EACH ROW WHEN (
    NEW.status IN ('completed', 'failed', 'cancelled')
    AND OLD.status IN ('queued', 'running')
  )
  EXECUTE FUNCTION mia.drop_job_deltas();

-- Down Migration
DROP TRIGGER jobs_drop_deltas_on_finish ON mia.jobs;
DROP FUNCTION mia.drop_job_deltas();
DROP TABLE mia.job_deltas;
