-- Create a business. The API key's hash comes in; the key itself never reaches the database.
-- The webhook secret is stored as is: it signs webhooks (see migrations/0002).
INSERT INTO mia.businesses (name, contact_email, contact_phone, system_prompt, priority, api_key_hash, webhook_secret)
VALUES (:name, :contact_email, :contact_phone, :system_prompt, :priority, :api_key_hash, :webhook_secret)
RETURNING id, name, contact_email, contact_phone, system_prompt, priority,
       contact_guardrail, contact_allowlist, widget_origins, pii_redaction, pii_redaction_categories, miner_pool, created_at, updated_at
