-- Up Migration
-- Webhook deliveries must never take every worker slot: receivers that hang
-- until MIA_WEBHOOK_TIMEOUT_MS would then hold back the lease reaper, and a
-- dead miner's job would wait longer than its lease plus one reap interval.
-- graphile-worker runs the jobs of one named queue one at a time, so spreading
-- deliveries over 4 queues (by job id) caps them at 4 concurrent slots; with
-- MIA_WORKER_CONCURRENCY ≥ 5 (default 8) the periodic tasks always find one.
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

-- Down Migration
CREATE OR REPLACE FUNCTION mia.enqueue_job_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.add_job(
    'mia.webhook_send',
    json_build_object('job_id', NEW.id),
    max_attempts => 25,
    job_key => 'mia.webhook_send:' || NEW.id::text
  );
  RETURN NULL;
END $$;
