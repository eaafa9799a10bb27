-- Up Migration
-- What miners earn and what businesses used (issue 10). README "What miners
-- earn" and "Usage and budgets" describe the rules; this file holds the data.
-- Lock order stays jobs before miners: nothing here locks either; the ledger,
-- usage and suspicion tables are only ever inserted into.

-- Suspension, escrow and budgets live on the accounts they govern.
ALTER TABLE mia.miners
  -- Set while suspended: claims are refused (403 miner_suspended), nothing is credited.
  ADD COLUMN suspended_at     timestamptz,
  ADD COLUMN suspended_reason text,
  -- The operator's last reinstatement: suspicions before it no longer count,
  -- and an untrusted miner's escrow track record starts again from it.
  ADD COLUMN reinstated_at    timestamptz,
  -- When the miner earned trust (its credits are `available` from then on).
  ADD COLUMN trusted_at       timestamptz;

ALTER TABLE mia.businesses
  -- Prompt + completion tokens per calendar month (UTC); NULL = no budget.
  ADD COLUMN monthly_token_budget bigint CHECK (monthly_token_budget IS NULL OR monthly_token_budget >= 0);

-- Credits per completion token, per model (the miner's model file name, as in
-- GET /v1/models), as a history: the rate of a job is the one in effect when it
-- completed, so changing a rate never rewrites what was earned. Model
-- 'default' applies to models without a rate of their own.
CREATE TABLE mia.model_rates (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model             text NOT NULL CHECK (length(model) BETWEEN 1 AND 500),
  credits_per_token numeric NOT NULL CHECK (credits_per_token >= 0),
  reason            text,
  effective_from    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_rates_model_idx ON mia.model_rates (model, effective_from DESC);
INSERT INTO mia.model_rates (model, credits_per_token, reason, effective_from)
VALUES ('default', 1, 'initial default: 1 credit per completion token', '-infinity');

CREATE FUNCTION mia.model_rate(p_model text, p_at timestamptz) RETURNS numeric
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT credits_per_token FROM mia.model_rates
     WHERE model = p_model AND effective_from <= p_at ORDER BY effective_from DESC, id DESC LIMIT 1),
    (SELECT credits_per_token FROM mia.model_rates
     WHERE model = 'default' AND effective_from <= p_at ORDER BY effective_from DESC, id DESC LIMIT 1),
    1)
$$;
COMMENT ON FUNCTION mia.model_rate(text, timestamptz) IS
  'Credits per completion token of a model at a time (its own rate, else the default rate).';

-- The ledger: one row per credited event, never changed afterwards (the
-- trigger below refuses UPDATE, DELETE and TRUNCATE). A correction is a new
-- 'adjustment' row with a reason. Whether a row is pending, frozen or
-- available is not stored: it follows from the miner's trust (trusted_at).
CREATE TABLE mia.miner_credits (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  miner_id     uuid NOT NULL REFERENCES mia.miners (id),
  kind         text NOT NULL CHECK (kind IN ('job', 'uptime', 'adjustment')),
  -- kind 'job': the job and the attempt that did the work. No foreign key:
  -- finished jobs are purged, the ledger is kept.
  job_id       uuid,
  attempt      integer,
  business_id  uuid,
  model        text,
  tokens       bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
  rate         numeric,
  -- Claim to accepted result, for tok/s on the leaderboard.
  seconds      double precision,
  -- kind 'uptime': the start of the interval credited.
  period_start timestamptz,
  -- kind 'adjustment': why (the operator's words).
  reason       text,
  credits      numeric NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT miner_credits_job_fields CHECK (kind <> 'job' OR (job_id IS NOT NULL AND attempt IS NOT NULL AND rate IS NOT NULL)),
  CONSTRAINT miner_credits_uptime_fields CHECK (kind <> 'uptime' OR period_start IS NOT NULL),
  CONSTRAINT miner_credits_adjustment_reason CHECK (kind <> 'adjustment' OR length(reason) > 0),
  CONSTRAINT miner_credits_earned_not_negative CHECK (kind = 'adjustment' OR credits >= 0)
);
-- A job attempt is credited at most once, however often its result is posted.
CREATE UNIQUE INDEX miner_credits_job_attempt_idx ON mia.miner_credits (job_id, attempt) WHERE kind = 'job';
-- An uptime interval is credited at most once, however many replicas run the task.
CREATE UNIQUE INDEX miner_credits_uptime_idx ON mia.miner_credits (miner_id, period_start) WHERE kind = 'uptime';
-- GET /miners/{id}/credits and the escrow count read one miner's rows by time.
CREATE INDEX miner_credits_miner_idx ON mia.miner_credits (miner_id, created_at);
-- The leaderboard's 24 h / 7 d windows read all miners' recent rows.
CREATE INDEX miner_credits_created_idx ON mia.miner_credits (created_at);

CREATE FUNCTION mia.refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'mia.miner_credits is append-only: % refused; insert an adjustment instead', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER miner_credits_append_only BEFORE UPDATE OR DELETE ON mia.miner_credits
  FOR EACH ROW EXECUTE FUNCTION mia.refuse_ledger_change();
CREATE TRIGGER miner_credits_no_truncate BEFORE TRUNCATE ON mia.miner_credits
  FOR EACH STATEMENT EXECUTE FUNCTION mia.refuse_ledger_change();

-- Every completed job's usage, written with the completion (credited or
-- suspected alike: the business received the answer). Kept when the job is
-- purged, so monthly budgets and usage reports outlive job retention.
CREATE TABLE mia.job_usage (
  job_id            uuid NOT NULL,
  attempt           integer NOT NULL,
  business_id       uuid NOT NULL REFERENCES mia.businesses (id),
  miner_id          uuid NOT NULL REFERENCES mia.miners (id),
  model             text NOT NULL,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL,
  completed_at      timestamptz NOT NULL,
  PRIMARY KEY (job_id, attempt)
);
-- Budgets sum a business's month; usage reports read a business's days.
CREATE INDEX job_usage_business_idx ON mia.job_usage (business_id, completed_at);

-- What the API found implausible. A suspected job earns nothing.
CREATE TABLE mia.miner_suspicions (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  miner_id   uuid NOT NULL REFERENCES mia.miners (id),
  job_id     uuid,
  attempt    integer,
  reason     text NOT NULL CHECK (reason IN ('tokens_implausible', 'too_fast', 'prompt_tokens_implausible',
                                             'abort_rate', 'refusal_rate')),
  -- The numbers the check compared (reported, bound, output bytes, seconds…).
  figures    jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX miner_suspicions_miner_idx ON mia.miner_suspicions (miner_id, created_at);
-- One suspicion per reason per job attempt, however often the result is posted.
CREATE UNIQUE INDEX miner_suspicions_job_idx ON mia.miner_suspicions (job_id, attempt, reason) WHERE job_id IS NOT NULL;

-- Aborted jobs (success:false) and refused results (lease lost, forbidden,
-- conflicting), the last hour of them per miner, for the rate checks.
CREATE TABLE mia.miner_job_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  miner_id   uuid NOT NULL REFERENCES mia.miners (id),
  job_id     uuid NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('aborted', 'refused')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX miner_job_events_miner_idx ON mia.miner_job_events (miner_id, kind, created_at);

-- DBA surface.
CREATE VIEW mia.miner_credits_daily AS
SELECT (date_trunc('day', c.created_at AT TIME ZONE 'UTC'))::date AS day, c.miner_id, m.name AS miner_name,
       c.kind, coalesce(c.model, '') AS model, count(*) AS entries, sum(c.tokens) AS tokens, sum(c.credits) AS credits
FROM mia.miner_credits AS c
JOIN mia.miners AS m ON m.id = c.miner_id
GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW mia.miner_credits_daily IS
  'Credits per UTC day, miner, kind (job, uptime, adjustment) and model, from the append-only ledger mia.miner_credits.';

CREATE VIEW mia.business_usage_daily AS
SELECT (date_trunc('day', u.completed_at AT TIME ZONE 'UTC'))::date AS day, u.business_id, u.model,
       count(*) AS jobs, sum(u.prompt_tokens) AS prompt_tokens, sum(u.completion_tokens) AS completion_tokens
FROM mia.job_usage AS u
GROUP BY 1, 2, 3;
COMMENT ON VIEW mia.business_usage_daily IS
  'Completed jobs and their prompt and completion tokens per UTC day, business and model (what GET /businesses/{id}/usage answers).';

-- The ledger's invariant, checked in SQL: for every miner, the job credits
-- equal the completion tokens × rate of its completed jobs that were not
-- suspected (the attempt that completed them), over the jobs still in
-- mia.jobs (purged jobs leave their ledger rows, which are then not checked).
-- Cancelled jobs whose work was credited count with the tokens recorded on them.
-- No rows = consistent.
CREATE FUNCTION mia.credit_discrepancies()
RETURNS TABLE (miner_id uuid, expected_credits numeric, credited numeric, expected_jobs bigint, credited_jobs bigint)
LANGUAGE sql STABLE AS $$
  WITH expected AS (
    SELECT j.miner_id, j.id AS job_id, j.attempts AS attempt,
           j.tokens_generated * mia.model_rate(coalesce(c.model, m.model, 'unknown'), j.completed_at) AS credits
    FROM mia.jobs AS j
    JOIN mia.miners AS m ON m.id = j.miner_id
    LEFT JOIN mia.miner_credits AS c ON c.kind = 'job' AND c.job_id = j.id AND c.attempt = j.attempts
    WHERE (j.status = 'completed' OR (j.status = 'cancelled' AND j.tokens_generated IS NOT NULL))
      AND NOT EXISTS (SELECT 1 FROM mia.miner_suspicions AS s WHERE s.job_id = j.id AND s.attempt = j.attempts)
  ), actual AS (
    SELECT c.miner_id, c.job_id, c.attempt, c.credits
    FROM mia.miner_credits AS c
    JOIN mia.jobs AS j ON j.id = c.job_id
    WHERE c.kind = 'job'
  ), e AS (
    SELECT miner_id, sum(credits) AS credits, count(*) AS jobs FROM expected GROUP BY 1
  ), a AS (
    SELECT miner_id, sum(credits) AS credits, count(*) AS jobs FROM actual GROUP BY 1
  )
  SELECT coalesce(e.miner_id, a.miner_id), coalesce(e.credits, 0), coalesce(a.credits, 0),
         coalesce(e.jobs, 0), coalesce(a.jobs, 0)
  FROM e FULL JOIN a ON a.miner_id = e.miner_id
  WHERE coalesce(e.credits, 0) <> coalesce(a.credits, 0) OR coalesce(e.jobs, 0) <> coalesce(a.jobs, 0)
$$;
COMMENT ON FUNCTION mia.credit_discrepancies() IS
  'Miners whose job credits differ from completion tokens x rate over their completed, unsuspected jobs; no rows = the ledger is consistent.';

-- Down Migration
DROP FUNCTION mia.credit_discrepancies();
DROP VIEW mia.business_usage_daily;
DROP VIEW mia.miner_credits_daily;
DROP TABLE mia.miner_job_events;
DROP TABLE mia.miner_suspicions;
DROP TABLE mia.job_usage;
DROP TABLE mia.miner_credits;
DROP FUNCTION mia.refuse_ledger_change();
DROP FUNCTION mia.model_rate(text, timestamptz);
DROP TABLE mia.model_rates;
ALTER TABLE mia.businesses DROP COLUMN monthly_token_budget;
ALTER TABLE mia.miners DROP COLUMN suspended_at, DROP COLUMN suspended_reason, DROP COLUMN reinstated_at,
  DROP COLUMN trusted_at;
