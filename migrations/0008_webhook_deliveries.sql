-- Up Migration
-- Webhooks, per business and visible to the business.
--
-- 1. What became of a job's webhook is kept in mia.webhook_deliveries, one
--    row per job (the latest finish): the trigger writes it as 'pending' in
--    the transaction that finishes the job, and the sender
--    (api/maintenance/webhookSender.ts) records each attempt: 'delivered', or
--    'failed' once it gives up (or the target is refused), with the last
--    error. GET /job/{id}/result shows it as `webhook`. Rows go with their job
--    (ON DELETE CASCADE: the retention purge removes both). Lock order: a job
--    row before its delivery row (the trigger runs under the job's row lock;
--    the sender touches only the delivery row).
--
-- 2. `webhook_id` is the Standard Webhooks `webhook-id` header: the same for
--    every retry of one delivery, new when the job finishes again (requeued by
--    a DBA, then finished), so a receiver that deduplicates by it never drops
--    a newer outcome. It travels in the graphile-worker payload; a retry has
--    the same payload, and a newer finish replaces it (job_key).
--
-- 3. Queues per business. Migration 0006 spread every business's deliveries
--    over 4 shared serial queues, so 16 hanging receivers of one business
--    held up everyone's webhooks. Each business now has its own 2 queues
--    ("lanes", chosen by the job id), so a business's dead receiver occupies
--    at most 2 delivery slots and delays only its own deliveries; the other
--    businesses' deliveries run in the remaining slots. Why 2: one lane would
--    limit a busy business with a healthy receiver to one request at a time
--    (about 10/s at 100 ms each); more lanes let one dead receiver hold more
--    slots. That deliveries never take the slots of the lease reaper is no
--    longer the queues' job: they run in a worker of their own with its own
--    concurrency (MIA_WEBHOOK_CONCURRENCY; api/maintenance/startMaintenance.ts).
--    Queue names are bounded by businesses × 2 (graphile-worker warns against
--    high-cardinality queue names: every fetch locks the available queues),
--    and they are reused, never random. `hashtext(...) & 1`, not abs() % n:
--    abs(hashtext(x)) overflows for hashtext = -2^31 and would fail the
--    transaction that finishes the job.
CREATE TABLE mia.webhook_deliveries (
  job_id               uuid PRIMARY KEY REFERENCES mia.jobs (id) ON DELETE CASCADE,
  webhook_id           text NOT NULL,
  status               text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'delivered', 'failed')),
  -- Attempts made so far (graphile-worker's count for this delivery).
  attempts             integer NOT NULL DEFAULT 0,
  -- Why the last attempt failed: the receiver's status, a timeout, a refused target.
  last_error           text,
  last_response_status integer,
  last_attempt_at      timestamptz,
  delivered_at         timestamptz,
  -- When the job finished (this delivery was queued).
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- Undeliverable webhooks, for a DBA: SELECT * FROM mia.webhook_deliveries WHERE status = 'failed'.
CREATE INDEX webhook_deliveries_failed_idx ON mia.webhook_deliveries (created_at)
  WHERE status = 'failed';

CREATE OR REPLACE FUNCTION mia.enqueue_job_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  new_webhook_id text := 'msg_' || replace(gen_random_uuid()::text, '-', '');
BEGIN
  INSERT INTO mia.webhook_deliveries (job_id, webhook_id)
  VALUES (NEW.id, new_webhook_id)
  ON CONFLICT (job_id) DO UPDATE SET
    webhook_id = EXCLUDED.webhook_id, status = 'pending', attempts = 0, last_error = NULL,
    last_response_status = NULL, last_attempt_at = NULL, delivered_at = NULL, created_at = now();
  PERFORM graphile_worker.add_job(
    'mia.webhook_send',
    json_build_object('job_id', NEW.id, 'webhook_id', new_webhook_id),
    queue_name => 'mia.webhooks.' || NEW.business_id::text || '.' || (hashtext(NEW.id::text) & 1)::text,
    max_attempts => 25,
    job_key => 'mia.webhook_send:' || NEW.id::text
  );
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION mia.enqueue_job_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.add_job(
    'mia.webhook_send',
    json_build_object('job_id', NEW.id),
    queue_name => 'mia.webhooks.' || (abs(hashtext(NEW.id::text)) % 4)::text,
    max_attempts => 25,
    job_key => 'mia.webhook_send:' || NEW.id::text
  );
  RETURN NULL;
END $$;
DROP TABLE mia.webhook_deliveries;
