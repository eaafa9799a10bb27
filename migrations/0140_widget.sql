-- Up Migration
-- The chat widget (issue 20): the origins a business's widget may run on, and the
-- short-lived tokens the widget carries instead of the business's API key.
--
-- widget_origins: exact origins (`https://shop.example`, `http://localhost:5173`), the
-- CORS allow-list of the widget routes and the only origins a widget token may be bound to.
-- The GIN index serves the CORS check "does any business allow this origin"
-- (`widget_origins @> ARRAY[origin]`), asked on a preflight before any token is known.
ALTER TABLE mia.businesses ADD COLUMN widget_origins text[] NOT NULL DEFAULT '{}';
CREATE INDEX businesses_widget_origins_idx ON mia.businesses USING gin (widget_origins);

-- A widget token is stored as sha256 like every other bearer secret (api/auth/secrets.ts);
-- a row is the token's whole meaning: one business, one session, one origin, until expires_at.
-- Stored rather than signed so that it ends with its origin (a token whose origin left
-- widget_origins is refused at once) and needs no signing key shared by the API replicas.
-- Rows are kept a day past expiry so an expired token is told `token_expired`, not
-- `unauthorized`; sql/widget_token_create.sql purges older ones of the same business.
CREATE TABLE mia.widget_tokens (
  token_hash  text PRIMARY KEY,
  business_id uuid NOT NULL REFERENCES mia.businesses (id) ON DELETE CASCADE,
  session_id  text NOT NULL,
  origin      text NOT NULL,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- The purge reads one business's oldest expiries.
CREATE INDEX widget_tokens_business_expiry_idx ON mia.widget_tokens (business_id, expires_at);

-- Down Migration
DROP TABLE mia.widget_tokens;
DROP INDEX mia.businesses_widget_origins_idx;
ALTER TABLE mia.businesses DROP COLUMN widget_origins;
