-- The widget token behind a bearer secret, expired or not (the caller tells the two apart),
-- with what a chat needs of its business. A token whose origin has since left the business's
-- widget_origins finds nothing: removing an origin ends its tokens at once.
SELECT t.business_id, t.session_id, t.origin, t.expires_at, b.system_prompt, b.priority
FROM mia.widget_tokens AS t
JOIN mia.businesses AS b ON b.id = t.business_id AND b.widget_origins @> ARRAY[t.origin]
WHERE t.token_hash = :token_hash
