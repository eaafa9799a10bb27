-- One wake-up for all jobs that got new deltas on this API process in the
-- last coalescing window (api/streaming/deltaNotifier.ts). Sent on its own,
-- outside the inserts, so they never wait on Postgres' notify commit lock.
SELECT pg_notify('mia_job_delta', :payload) AS sent
