-- Judge an answer that waited for its known answer.
UPDATE mia.canary_answers SET verdict = :verdict, agreed_chars = :agreed_chars
WHERE job_id = :job_id AND attempt = :attempt AND verdict = 'pending'
RETURNING job_id
