-- Every placeholder of one session (nothing new to assign: its values are
-- still replaced where an answer quoted them).
SELECT placeholder, category, value_key, value
FROM mia.pii_placeholders
WHERE business_id = :business_id AND session_id = :session_id
