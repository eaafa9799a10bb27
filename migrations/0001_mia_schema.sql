-- Up Migration
-- The whole MIA data model (SPEC §2). Every job lives here from submission to
-- purge; nothing is ever held only in memory or in Redis.
CREATE SCHEMA IF NOT EXISTS mia;

CREATE TABLE mia.businesses (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  contact_email  text,
  contact_phone  text,
  -- The business's standing instructions and facts, sent first in every job.
  system_prompt  text NOT NULL DEFAULT '',
  -- sha256 hex of the API key; the key itself is shown once and never stored.
  api_key_hash   text NOT NULL UNIQUE,
  -- Lower runs sooner (the claim orders by priority ascending).
  priority       smallint NOT NULL DEFAULT 100,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mia.miners (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                   text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  auth_key_hash          text NOT NULL UNIQUE,
  ip_address             text,
  gpu_name               text,
  gpu_memory_mb          integer,
  -- Every GPU nvidia-smi reported (name, memory, uuid, driver, compute capability).
  gpus                   jsonb NOT NULL DEFAULT '[]',
  model                  text,
  context_length         integer,
  slots                  integer NOT NULL DEFAULT 1 CHECK (slots >= 1),
  status                 text NOT NULL DEFAULT 'idle'
                         CHECK (status IN ('idle', 'busy', 'offline', 'draining')),
  job_count              bigint NOT NULL DEFAULT 0,
  total_tokens_generated bigint NOT NULL DEFAULT 0,
  -- Exponential moving average over completed jobs (claim to result).
  tokens_per_second      double precision NOT NULL DEFAULT 0,
  created_at             timestamptz NOT NULL DEFAULT now(),
  last_active            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mia.jobs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_id      uuid NOT NULL REFERENCES mia.businesses (id),
  session_id       text NOT NULL,
  status           text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  -- The full chat sent to the model: system prompt, context, history, new message.
  messages         jsonb NOT NULL,
  prompt           text NOT NULL,
  context          text,
  max_tokens       integer NOT NULL CHECK (max_tokens > 0),
  temperature      double precision NOT NULL DEFAULT 0.7,
  tools            jsonb,
  tool_choice      jsonb,
  priority         smallint NOT NULL DEFAULT 100,
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  -- The current (or last) holder; NULL while queued.
  miner_id         uuid REFERENCES mia.miners (id),
  -- Every miner that ever held the job: a result from one of them after the
  -- lease moved on is a lost lease (409), from anyone else a forbidden one (403).
  attempted_by     uuid[] NOT NULL DEFAULT '{}',
  lease_token      uuid,
  lease_expires_at timestamptz,
  run_after        timestamptz NOT NULL DEFAULT now(),
  idempotency_key  text,
  callback_url     text,
  output           text,
  tool_calls       jsonb,
  tokens_generated integer,
  prompt_tokens    integer,
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  claimed_at       timestamptz,
  completed_at     timestamptz,
  -- A running job always has a holder and a lease; a lease never lacks a miner.
  CONSTRAINT jobs_running_has_lease CHECK (
    status <> 'running' OR (miner_id IS NOT NULL AND lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)
  ),
  CONSTRAINT jobs_lease_has_miner CHECK (lease_token IS NULL OR miner_id IS NOT NULL)
);

-- The claim query (sql/job_claim.sql) reads
--   WHERE status = 'queued' AND run_after <= now() ORDER BY priority, created_at
-- This partial index matches that WHERE and ORDER BY exactly, and holds only
-- queued rows, so it stays small however many finished jobs the table keeps.
CREATE INDEX jobs_claim_idx ON mia.jobs (priority, created_at) WHERE status = 'queued';

-- Heartbeats, the lease reaper and offline-miner release look up running jobs.
CREATE INDEX jobs_running_miner_idx ON mia.jobs (miner_id) WHERE status = 'running';
CREATE INDEX jobs_running_lease_idx ON mia.jobs (lease_expires_at) WHERE status = 'running';

-- A retried POST /chat with the same Idempotency-Key finds the original job.
CREATE UNIQUE INDEX jobs_idempotency_idx ON mia.jobs (business_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

CREATE INDEX jobs_business_idx ON mia.jobs (business_id, created_at);

CREATE TABLE mia.chat_logs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id  text NOT NULL,
  business_id uuid NOT NULL REFERENCES mia.businesses (id),
  -- No foreign key: finished jobs are purged, chat logs are kept.
  job_id      uuid NOT NULL,
  role        text NOT NULL CHECK (role IN ('user', 'assistant')),
  message     text NOT NULL,
  "timestamp" timestamptz NOT NULL DEFAULT now()
);
-- One user row and at most one assistant row per job, whatever retries happen.
CREATE UNIQUE INDEX chat_logs_job_role_idx ON mia.chat_logs (job_id, role);
-- A session's history is read newest first.
CREATE INDEX chat_logs_session_idx ON mia.chat_logs (business_id, session_id, id);

CREATE TABLE mia.system_metrics (
  metric_name text PRIMARY KEY,
  value       double precision NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Wake-ups. Waiting miners and waiting POST /chat calls hold no connection:
-- each API process LISTENs on these channels. Triggers (not application code)
-- send them, so a job requeued from psql wakes miners too. The queued payload
-- is empty on purpose: Postgres folds identical notifications of one
-- transaction into one, so a bulk insert wakes each process once.
CREATE FUNCTION mia.notify_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mia_job_queued', '');
  RETURN NULL;
END $$;

CREATE FUNCTION mia.notify_job_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mia_job_finished', NEW.id::text);
  RETURN NULL;
END $$;

-- WHEN clauses keep the hot claim UPDATE (queued -> running) from calling any function.
CREATE TRIGGER jobs_queued_on_insert AFTER INSERT ON mia.jobs
  FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION mia.notify_job_queued();
CREATE TRIGGER jobs_queued_on_update AFTER UPDATE OF status ON mia.jobs
  FOR EACH ROW WHEN (NEW.status = 'queued' AND OLD.status <> 'queued')
  EXECUTE FUNCTION mia.notify_job_queued();
CREATE TRIGGER jobs_finished_on_update AFTER UPDATE OF status ON mia.jobs
  FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION mia.notify_job_finished();

-- Down Migration
DROP SCHEMA mia CASCADE;
