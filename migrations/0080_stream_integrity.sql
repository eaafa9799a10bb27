-- Up Migration
-- Integrity against hostile miners (issue 16, items 1, 2 and 6): what a
-- customer is shown is checked, not taken on a stranger's word.

-- Deltas bounded per attempt (sql/job_delta_append.sql): each batch carries how
-- much the attempt has stored through it (text characters plus the characters
-- of its tool-call JSON), so the cap check reads one row, the previous batch,
-- by the primary key, never the whole attempt.
ALTER TABLE mia.job_deltas
  ADD COLUMN size_end integer NOT NULL DEFAULT 0 CHECK (size_end >= 0);

-- Refused results (api/integrity/screenResults.ts) leave a suspicion like the
-- plausibility checks do.
ALTER TABLE mia.miner_suspicions DROP CONSTRAINT miner_suspicions_reason_check;
ALTER TABLE mia.miner_suspicions ADD CONSTRAINT miner_suspicions_reason_check
  CHECK (reason IN ('tokens_implausible', 'too_fast', 'prompt_tokens_implausible',
                    'abort_rate', 'refusal_rate', 'stream_contradicted', 'contact_guardrail'));

-- What customers may have been shown of an attempt whose result was refused:
-- the deltas go with the job, this record stays (the audit trail of what a
-- hostile miner put on a customer's screen before the retraction). Only ever
-- inserted into; purged with nothing else, it is small (one row per refusal).
CREATE TABLE mia.job_retractions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      uuid NOT NULL,
  attempt     integer NOT NULL,
  miner_id    uuid NOT NULL REFERENCES mia.miners (id),
  business_id uuid NOT NULL REFERENCES mia.businesses (id),
  -- 'stream_contradicted' or 'contact_guardrail', as in mia.miner_suspicions.
  reason      text NOT NULL,
  streamed    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, attempt)
);
CREATE INDEX job_retractions_business_idx ON mia.job_retractions (business_id, created_at);

-- The contact guardrail (api/integrity/contacts.ts): on unless the business
-- switches it off; the allow-list adds hosts, e-mail addresses and phone
-- numbers beyond those its prompts and requests contain.
ALTER TABLE mia.businesses
  ADD COLUMN contact_guardrail boolean NOT NULL DEFAULT true,
  ADD COLUMN contact_allowlist text[] NOT NULL DEFAULT '{}';

-- Down Migration
ALTER TABLE mia.businesses DROP COLUMN contact_allowlist, DROP COLUMN contact_guardrail;
DROP TABLE mia.job_retractions;
DELETE FROM mia.miner_suspicions WHERE reason IN ('stream_contradicted', 'contact_guardrail');
ALTER TABLE mia.miner_suspicions DROP CONSTRAINT miner_suspicions_reason_check;
ALTER TABLE mia.miner_suspicions ADD CONSTRAINT miner_suspicions_reason_check
  CHECK (reason IN ('tokens_implausible', 'too_fast', 'prompt_tokens_implausible', 'abort_rate', 'refusal_rate'));
ALTER TABLE mia.job_deltas DROP COLUMN size_end;
