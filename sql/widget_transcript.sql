-- The newest :turns messages of one widget session, oldest first, each with its job's
-- status (null once the job is purged), so the widget redraws the conversation after a page
-- load and reattaches to an answer still being written. chat_logs_session_idx, newest first.
SELECT c.role, c.message, c.job_id, c.at, j.status
FROM (
  SELECT id, role, message, job_id, "timestamp" AS at
  FROM mia.chat_logs
  WHERE business_id = :business_id AND session_id = :session_id
  ORDER BY id DESC
  LIMIT :turns
) AS c
LEFT JOIN mia.jobs AS j ON j.id = c.job_id
ORDER BY c.id
