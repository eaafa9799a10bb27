-- Establish a known answer. A trusted miner's answer replaces one found by agreement
-- (the operator's reference wins); an agreement never replaces anything.
INSERT INTO mia.canary_expectations (model, prompt_index, max_tokens, expected, source)
VALUES (:model, :prompt_index, :max_tokens, :expected, :source)
ON CONFLICT (model, prompt_index, max_tokens) DO UPDATE
SET expected = excluded.expected, source = excluded.source, established_at = now()
WHERE excluded.source = 'trusted' AND mia.canary_expectations.source = 'agreement'
RETURNING expected
