-- A new rate for a model (or 'default'), from now on; earlier credits keep theirs.
INSERT INTO mia.model_rates (model, credits_per_token, reason)
VALUES (:model, :credits_per_token::numeric, :reason)
RETURNING model, credits_per_token::float8 AS credits_per_token, effective_from
