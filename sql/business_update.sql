-- Partial update: a NULL parameter keeps the stored value (clear a contact with '').
UPDATE mia.businesses
SET name          = coalesce(:name, name),
    contact_email = coalesce(:contact_email, contact_email),
    contact_phone = coalesce(:contact_phone, contact_phone),
    system_prompt = coalesce(:system_prompt, system_prompt),
    priority      = coalesce(:priority::smallint, priority),
    -- The contact guardrail (migration 0080); the allow-list is replaced whole.
    contact_guardrail = coalesce(:contact_guardrail::boolean, contact_guardrail),
    contact_allowlist = coalesce(:contact_allowlist::text[], contact_allowlist),
    -- The chat widget's origins (migration 0140), replaced whole.
    widget_origins = coalesce(:widget_origins::text[], widget_origins),
    -- Redaction of customers' personal data before dispatch (migration 0150).
    pii_redaction = coalesce(:pii_redaction::boolean, pii_redaction),
    pii_redaction_categories = coalesce(:pii_redaction_categories::text[], pii_redaction_categories),
    -- Which miners may take its jobs (migration 0170); jobs already queued keep theirs.
    miner_pool    = coalesce(:miner_pool, miner_pool),
    updated_at    = now()
WHERE id = :id
RETURNING id, name, contact_email, contact_phone, system_prompt, priority,
       contact_guardrail, contact_allowlist, widget_origins, pii_redaction, pii_redaction_categories, miner_pool, created_at, updated_at
