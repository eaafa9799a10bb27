-- What a stream reader needs on each wake-up: the job's state and the batches
-- of its current attempt from :from_seq on, in order (migration 0020). Readers
-- keep what they read and ask only for the batches after it (the primary key
-- serves the range).
SELECT j.status, j.attempts, j.error,
       coalesce((
         SELECT json_agg(json_build_object('seq', d.seq, 'text_start', d.text_start, 'content', d.content,
                                           'tool_start', d.tool_start, 'tool_calls', d.tool_calls)
                         ORDER BY d.seq)
         FROM mia.job_deltas AS d
         WHERE d.job_id = j.id AND d.attempt = j.attempts AND d.seq >= :from_seq
       ), '[]'::json) AS deltas
FROM mia.jobs AS j
WHERE j.id = :id
