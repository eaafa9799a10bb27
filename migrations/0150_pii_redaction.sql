-- Up Migration
-- Customers' personal data is redacted before a job reaches a miner (issue 21,
-- item 1; api/privacy/): e-mail addresses, phone numbers, card numbers and IBANs
-- in the job's messages are replaced by placeholders ([EMAIL_1], [PHONE_2], …)
-- and put back into the answer by the backend.

-- Each placeholder's value, per business and session, so the same value gets
-- the same placeholder on every turn of a conversation. Read by the backend
-- only: no route returns a row, no log line prints one. The values are what
-- mia.chat_logs already holds in clear (the customer's own messages), so they
-- are not encrypted separately; they are never sent to a miner.
CREATE TABLE mia.pii_placeholders (
  business_id uuid NOT NULL REFERENCES mia.businesses (id) ON DELETE CASCADE,
  session_id  text NOT NULL,
  -- '[EMAIL_1]': the label of the category and its number within the session.
  placeholder text NOT NULL,
  category    text NOT NULL CHECK (category IN ('email', 'phone', 'card', 'iban')),
  -- What makes two spellings the same value: the lower-cased address, the E.164
  -- number, the card's digits, the IBAN without spaces, upper-cased.
  value_key   text NOT NULL,
  -- The value as first written: what an answer shows in the placeholder's place.
  value       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, session_id, placeholder),
  UNIQUE (business_id, session_id, category, value_key)
);

-- Per business: on unless switched off, for every category unless narrowed.
ALTER TABLE mia.businesses
  ADD COLUMN pii_redaction boolean NOT NULL DEFAULT true,
  ADD COLUMN pii_redaction_categories text[] NOT NULL DEFAULT '{email,phone,card,iban}'
    CHECK (pii_redaction_categories <@ '{email,phone,card,iban}'::text[]);

-- Per job: what was redacted (category → count of replaced occurrences, never a
-- value), which placeholders this job's messages received (the only ones its
-- answer may have restored: a placeholder a miner invents stays as written), and
-- the answer as the miner sent it when restoring changed it (stream checks,
-- duplicate results and token plausibility judge the miner's own text; output
-- holds the customer's).
ALTER TABLE mia.jobs
  ADD COLUMN pii_redacted jsonb,
  ADD COLUMN pii_placeholders text[],
  ADD COLUMN miner_output text;

COMMENT ON COLUMN mia.jobs.pii_redacted IS
  'Personal data replaced by placeholders before dispatch: {"email": 2, "phone": 1}; NULL: redaction off for this job.';
COMMENT ON COLUMN mia.jobs.miner_output IS
  'The answer as the miner sent it (with placeholders), when output (restored) differs; NULL: same as output.';

-- Down Migration
ALTER TABLE mia.jobs DROP COLUMN miner_output, DROP COLUMN pii_placeholders, DROP COLUMN pii_redacted;
ALTER TABLE mia.businesses DROP COLUMN pii_redaction_categories, DROP COLUMN pii_redaction;
DROP TABLE mia.pii_placeholders;
