-- Everything a chat submit reads before it writes (api/jobs/createChatJob.ts), in one
-- statement: it was three, each a round trip on a pooled connection of its own, on the
-- way to dispatch and to the first token (issue 17).
--
-- Privacy (api/privacy/redactJob.ts): the business's switch and categories, what it
-- gave itself (its system prompt and contact allow-list, which are not redacted), and
-- the placeholders the session already has (its values stay redacted wherever they
-- come back, in any later turn); and the contact guardrail's switch, which the
-- submitter's own stream reader needs (api/streaming/jobEvents.ts StreamStart).
--
-- Budget (api/credits/budget.ts): only whether the business has one. A budgeted
-- submit reads its usage under the business's row lock anyway
-- (sql/business_budget_check.sql); one without a budget reads nothing more.
--
-- Capacity (issues 17 and 19): what the online miners can hold, for a job whose
-- prompt without history needs :base_tokens of context and that runs on :model (NULL:
-- any miner). Online as the claim sees it (sql/job_claim.sql): idle or busy, not
-- suspended; context_length is per slot, NULL (not reported) holds anything.
--   online = 0                         → no miner at all (OpenAI routes: no_miner_available);
--   largest_context below the need     → no_capable_miner, unless the business waits
--                                        (NULL: none online serves the model);
--   smallest_fitting                   → the context the session history is trimmed to
--                                        (api/chat/buildMessages.ts), NULL if none fits.
-- Reads the miners table only (a few hundred rows at most), no lock.
SELECT b.pii_redaction, b.pii_redaction_categories, b.system_prompt, b.contact_allowlist, b.contact_guardrail,
       coalesce((SELECT jsonb_agg(jsonb_build_object('placeholder', p.placeholder, 'category', p.category,
                                                     'value_key', p.value_key, 'value', p.value))
                 FROM mia.pii_placeholders AS p
                 WHERE p.business_id = b.id AND p.session_id = :session_id AND b.pii_redaction), '[]') AS session_values,
       b.monthly_token_budget IS NOT NULL AS budgeted,
       capacity.online, capacity.largest_context, capacity.smallest_fitting
FROM mia.businesses AS b
CROSS JOIN (
  SELECT count(*)::int AS online,
         max(s.ctx)::int AS largest_context,
         min(s.ctx) FILTER (WHERE s.ctx >= :base_tokens::int)::int AS smallest_fitting
  FROM (
    SELECT CASE WHEN :model::text IS NULL OR m.model = :model::text
                THEN coalesce(m.context_length, 2147483647) END AS ctx
    FROM mia.miners AS m
    WHERE m.status IN ('idle', 'busy') AND m.suspended_at IS NULL
  ) AS s
) AS capacity
WHERE b.id = :business_id
