-- What a submit needs to redact a business's chat (api/privacy/redactJob.ts), in
-- one read: the business's switch and categories, what it gave itself (its
-- system prompt and contact allow-list, which are not redacted), and the
-- placeholders the session already has (its values stay redacted wherever they
-- come back, in any later turn); and the contact guardrail's switch, which the
-- submitter's own stream reader needs (api/streaming/jobEvents.ts StreamStart).
SELECT b.pii_redaction, b.pii_redaction_categories, b.system_prompt, b.contact_allowlist, b.contact_guardrail,
       coalesce((SELECT jsonb_agg(jsonb_build_object('placeholder', p.placeholder, 'category', p.category,
                                                     'value_key', p.value_key, 'value', p.value))
                 FROM mia.pii_placeholders AS p
                 WHERE p.business_id = b.id AND p.session_id = :session_id AND b.pii_redaction), '[]') AS session_values
FROM mia.businesses AS b
WHERE b.id = :business_id
