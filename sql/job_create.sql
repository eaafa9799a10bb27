-- Submit a chat message: the job and the user's chat-log row in one statement
-- (one transaction). With an Idempotency-Key that this business already used,
-- nothing is written and no row comes back: the caller then reads the original.
-- With :reserve (the business has a budget and this transaction holds its row,
-- sql/business_budget_lock.sql), the job reserves the most it can be billed:
-- the prompt bound of api/credits/plausibility.ts (bytes of the messages and
-- tools as JSON + 16 per message + 256) + max_tokens. The trigger of migration
-- 0085 gives the reservation back when the job ends.
WITH clock AS (
  -- Fair queueing (migrations 0070, 0100): after this business's latest submitted job,
  -- or now if that is later. The upsert waits for a concurrent submit of the same
  -- business and reads its committed place, so parallel submits get distinct places
  -- (a max(fair_at) read saw the same maximum in all of them).
  INSERT INTO mia.business_fair_clocks AS c (business_id, last_fair_at)
  VALUES (:business_id, now())
  ON CONFLICT (business_id) DO UPDATE
  SET last_fair_at = greatest(now(), c.last_fair_at + make_interval(secs => :fair_spacing_s::double precision))
  RETURNING last_fair_at
), job AS (
  INSERT INTO mia.jobs (business_id, session_id, messages, prompt, context, max_tokens, temperature,
                        tools, tool_choice, sampling, priority, max_attempts, idempotency_key, callback_url,
                        notify_on_finish, queue_deadline, need_tokens, waits_for_miner, model, fair_at, reserved_tokens,
                        pii_redacted, pii_placeholders, pool, canary_prompt)
  VALUES (:business_id, :session_id, :messages::jsonb, :prompt, :context, :max_tokens, :temperature,
          :tools::jsonb, :tool_choice::jsonb, :sampling::jsonb, :priority, :max_attempts, :idempotency_key, :callback_url,
          :notify_on_finish,
          -- 0: no deadline.
          CASE WHEN :queue_timeout_s::int > 0 THEN now() + make_interval(secs => :queue_timeout_s::int) END,
          :need_tokens,
          :waits_for_miner,
          :model::text,
          (SELECT last_fair_at FROM clock),
          CASE WHEN :reserve::boolean
               THEN octet_length(:messages::jsonb::text) + coalesce(octet_length(:tools::jsonb::text), 0)
                    + 16 * jsonb_array_length(:messages::jsonb) + 256 + :max_tokens::int
               ELSE 0 END,
          -- Personal data redacted (migration 0150): counts only, and the placeholders used.
          :pii_redacted::jsonb, :pii_placeholders::text[],
          -- The business's pool as the claim matches it (migration 0170): NULL = open.
          (SELECT CASE b.miner_pool WHEN 'open' THEN NULL WHEN 'own' THEN 'own:' || b.id::text ELSE b.miner_pool END
           FROM mia.businesses AS b WHERE b.id = :business_id),
          :canary_prompt::smallint)
  ON CONFLICT (business_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id, business_id, session_id, reserved_tokens
), reserved AS (
  UPDATE mia.businesses AS b
  SET reserved_tokens = b.reserved_tokens + job.reserved_tokens
  FROM job
  WHERE b.id = job.business_id AND job.reserved_tokens > 0
), user_log AS (
  INSERT INTO mia.chat_logs (session_id, business_id, job_id, role, message)
  -- The message as the customer wrote it (the job's prompt is the redacted one).
  SELECT session_id, business_id, id, 'user', :log_message FROM job
)
SELECT id FROM job
