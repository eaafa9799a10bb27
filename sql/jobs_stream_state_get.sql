-- The fallback check of the jobs this API process's streams wait on
-- (api/streaming/streamFallback.ts): one statement per MIA_FALLBACK_POLL_MS per
-- process, however many streams are open, instead of one read per stream (1,000
-- idle streams re-reading every 2 s cost ~480 commits/s, issue 17). A stream is
-- woken only when its job's state moved (a NOTIFY lost in transit, or a change
-- nothing notifies: a claim, a give-back): status, attempt, last batch stored.
-- A job that is gone returns no row (its readers are woken to say so).
SELECT j.id AS job_id, j.status, j.attempts,
       coalesce((SELECT max(d.seq) FROM mia.job_deltas AS d WHERE d.job_id = j.id AND d.attempt = j.attempts), -1) AS last_seq
FROM mia.jobs AS j
WHERE j.id = ANY (:ids::uuid[])
