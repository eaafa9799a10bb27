-- Give each value of :values (a JSON array of {category, value_key, value, ord})
-- that the session has not seen its placeholder, numbered on within its
-- category ([EMAIL_1], [EMAIL_2], …), and return every placeholder of the
-- session. Run after sql/pii_session_lock.sql in the same transaction.
WITH input AS (
  SELECT * FROM jsonb_to_recordset(:values::jsonb) AS v(category text, value_key text, value text, ord integer)
), known AS (
  SELECT placeholder, category, value_key, value
  FROM mia.pii_placeholders
  WHERE business_id = :business_id AND session_id = :session_id
), fresh AS (
  SELECT i.category, i.value_key, i.value,
         coalesce((SELECT max(substring(k.placeholder FROM '_([0-9]+)]$')::int) FROM known AS k WHERE k.category = i.category), 0)
           + row_number() OVER (PARTITION BY i.category ORDER BY i.ord) AS n
  FROM input AS i
  WHERE NOT EXISTS (SELECT 1 FROM known AS k WHERE k.category = i.category AND k.value_key = i.value_key)
), inserted AS (
  INSERT INTO mia.pii_placeholders (business_id, session_id, placeholder, category, value_key, value)
  SELECT :business_id, :session_id, '[' || upper(category) || '_' || n || ']', category, value_key, value
  FROM fresh
  RETURNING placeholder, category, value_key, value
)
SELECT placeholder, category, value_key, value FROM known
UNION ALL
SELECT placeholder, category, value_key, value FROM inserted
