-- The newest :turns messages of a session, returned oldest first.
SELECT role, message
FROM (
  SELECT id, role, message
  FROM mia.chat_logs
  WHERE business_id = :business_id AND session_id = :session_id
  ORDER BY id DESC
  LIMIT :turns
) AS recent
ORDER BY id
