-- What a submit needs to redact a business's chats (api/privacy/redactJob.ts):
-- its switch and categories, and what the business itself gave (its system
-- prompt and contact allow-list), which is not redacted.
SELECT pii_redaction, pii_redaction_categories, system_prompt, contact_allowlist
FROM mia.businesses
WHERE id = :business_id
