-- The canaries among a miner's accepted results, with what judging them needs: the
-- model the canary named, its prompt, the answer and the miner's standing. Read in the
-- transaction that completes them (api/credits/creditResults.ts), after the jobs are
-- locked; the miner row is read, not locked (sql/LOCK_ORDER.md).
SELECT j.id AS job_id, j.attempts AS attempt, j.status, j.model, j.canary_prompt AS prompt_index, j.max_tokens,
       coalesce(j.output, '') AS output,
       m.operator_trusted, m.registered_from
FROM mia.jobs AS j
JOIN mia.miners AS m ON m.id = :miner_id
WHERE j.id = ANY (:job_ids::uuid[]) AND j.canary_prompt IS NOT NULL AND j.model IS NOT NULL
