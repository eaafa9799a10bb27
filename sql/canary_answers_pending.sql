-- Answers to a canary with no known answer yet, with where each miner registered from
-- (independence: answers from one address count once) and its owner business.
SELECT a.job_id, a.attempt, a.miner_id, a.output, m.registered_from, m.owner_business_id
FROM mia.canary_answers AS a
JOIN mia.miners AS m ON m.id = a.miner_id
WHERE a.model = :model AND a.prompt_index = :prompt_index AND a.max_tokens = :max_tokens AND a.verdict = 'pending'
ORDER BY a.created_at
