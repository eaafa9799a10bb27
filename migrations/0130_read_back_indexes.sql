-- Up Migration
-- Reading conversations back (issue 20): GET /sessions/{session_id} and GET /jobs page
-- through a business's jobs by keyset (created_at, id), never OFFSET, and each page is a
-- range of one of these indexes, however many jobs the business has (no sort of its jobs;
-- EXPLAIN findings in README "Reading conversations back").
--
-- The price: every status change of a job writes an entry into each non-partial index
-- (migration 0005 dropped the old (business_id, created_at) index for that reason), so
-- there are only these two. The operator's list across businesses reuses the first one
-- per business (sql/job_list.sql) instead of an index on created_at alone.

-- A business's jobs newest first (GET /jobs), read backwards.
CREATE INDEX jobs_business_created_idx ON mia.jobs (business_id, created_at, id);

-- A session's turns oldest first (GET /sessions/{session_id}), and GET /jobs?session_id=.
CREATE INDEX jobs_session_idx ON mia.jobs (business_id, session_id, created_at, id);

-- Down Migration
DROP INDEX mia.jobs_session_idx;
DROP INDEX mia.jobs_business_created_idx;
