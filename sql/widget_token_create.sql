-- Store a new widget token (its hash only) bound to one business, session and origin.
-- Written only while the origin is one of the business's widget_origins: no row comes back
-- otherwise. Also purges a bounded batch of the business's tokens that expired over a day
-- ago (kept until then so that an expired token is told `token_expired`, not `unauthorized`).
WITH purged AS (
  DELETE FROM mia.widget_tokens
  WHERE token_hash IN (
    SELECT token_hash FROM mia.widget_tokens
    WHERE business_id = :business_id AND expires_at < now() - interval '1 day'
    ORDER BY expires_at
    LIMIT 100
  )
)
INSERT INTO mia.widget_tokens (token_hash, business_id, session_id, origin, expires_at)
SELECT :token_hash, b.id, :session_id, :origin, now() + make_interval(secs => :ttl_seconds::int)
FROM mia.businesses AS b
WHERE b.id = :business_id AND b.widget_origins @> ARRAY[:origin::text]
RETURNING session_id, origin, expires_at
