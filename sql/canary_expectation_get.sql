-- The known answer of a canary (model, prompt, max_tokens), if established.
SELECT expected, source FROM mia.canary_expectations
WHERE model = :model AND prompt_index = :prompt_index AND max_tokens = :max_tokens
