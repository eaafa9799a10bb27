SELECT id, name, contact_email, contact_phone, system_prompt, priority,
       contact_guardrail, contact_allowlist, widget_origins, pii_redaction, pii_redaction_categories, miner_pool, created_at, updated_at
FROM mia.businesses
WHERE id = :id
