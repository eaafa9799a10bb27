-- What the contact guardrail of one job allows (api/integrity/contacts.ts):
-- the business's switch and allow-list, and the texts the job was given (its
-- messages: system prompt, context, history, the customer's message).
SELECT b.contact_guardrail AS guardrail, b.contact_allowlist AS allowlist, j.messages, j.context
FROM mia.jobs AS j
JOIN mia.businesses AS b ON b.id = j.business_id
WHERE j.id = :id
