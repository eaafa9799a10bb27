-- How long jobs waited and ran, for the latency histograms (api/metrics/jobTimings.ts).
-- Computed here, on the database's clock, so an API host's clock skew cannot bend them.
-- claimed_at is the latest claim: a retried job's wait counts from its first submission.
SELECT id AS job_id,
       extract(epoch FROM coalesce(claimed_at, now()) - created_at)::double precision AS waited_s,
       extract(epoch FROM now() - created_at)::double precision AS age_s,
       extract(epoch FROM coalesce(completed_at, now()) - coalesce(claimed_at, now()))::double precision AS ran_s
FROM mia.jobs
WHERE id = ANY (:job_ids::uuid[])
