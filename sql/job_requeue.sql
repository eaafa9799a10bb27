-- Operator repair: put a stuck (running), failed or cancelled job back in the
-- queue. The DBA function does the work, so psql and the API behave alike.
SELECT mia.requeue_job(:id) AS requeued
