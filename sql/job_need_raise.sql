-- A miner reports that a job's prompt did not fit its context (error_code
-- context_exceeded, with llama-server's own count of the prompt's tokens): the estimate
-- made at submit (api/jobs/contextNeed.ts) was short. The job's need becomes the
-- measured prompt plus its max_tokens, so the next claim offers it only to miners whose
-- context holds it, or the unroutable-jobs task fails it with no_capable_miner, instead
-- of burning every attempt on the same too-small miners. A miner is a stranger: the need
-- can at most double per report, so a lie only moves the job to bigger miners.
-- Fenced like the failure report itself (this miner's live lease); run in its transaction.
UPDATE mia.jobs AS j
SET need_tokens = greatest(coalesce(j.need_tokens, 0),
                           least(i.prompt_tokens + j.max_tokens, 2 * greatest(coalesce(j.need_tokens, 0), j.max_tokens)))
FROM jsonb_to_recordset(:reports::jsonb) AS i(job_id uuid, lease_token uuid, prompt_tokens integer)
WHERE j.id = i.job_id AND j.status = 'running' AND j.miner_id = :miner_id AND j.lease_token = i.lease_token
  AND j.lease_expires_at >= now() AND i.prompt_tokens IS NOT NULL
RETURNING j.id AS job_id, j.need_tokens
