-- The operator-owned business a canary with this prompt is submitted under (migration
-- 0170), created on first use: one per prompt of api/trust/canaryPrompts.ts, named and
-- instructed like an ordinary customer, so its jobs look like any other business's. Its
-- API key is a hash of nothing anyone holds (no one can sign in as it).
WITH found AS (
  SELECT id, system_prompt, priority FROM mia.businesses WHERE canary AND name = :name
  ORDER BY created_at LIMIT 1
), made AS (
  INSERT INTO mia.businesses (name, system_prompt, priority, api_key_hash, webhook_secret, canary, contact_guardrail)
  SELECT :name, :system_prompt, 100, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
         'mia_wh_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), true, false
  WHERE NOT EXISTS (SELECT 1 FROM found)
  RETURNING id, system_prompt, priority
)
SELECT id, system_prompt, priority FROM found
UNION ALL
SELECT id, system_prompt, priority FROM made
