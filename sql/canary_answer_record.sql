-- One canary answer and its verdict (a repeat of the same attempt changes nothing).
INSERT INTO mia.canary_answers (job_id, attempt, miner_id, model, prompt_index, max_tokens, output, verdict, agreed_chars)
VALUES (:job_id, :attempt, :miner_id, :model, :prompt_index, :max_tokens, :output, :verdict, :agreed_chars)
ON CONFLICT (job_id, attempt) DO NOTHING
RETURNING job_id
