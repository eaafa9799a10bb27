-- The operator's facts about a model (migration 0085), replacing earlier ones.
-- They apply to results judged from now on.
INSERT INTO mia.model_profiles (model, hidden_reasoning, parameters_billions, reason)
VALUES (:model, :hidden_reasoning, :parameters_billions::numeric, :reason)
ON CONFLICT (model) DO UPDATE
SET hidden_reasoning = EXCLUDED.hidden_reasoning, parameters_billions = EXCLUDED.parameters_billions,
    reason = EXCLUDED.reason, updated_at = now()
RETURNING model, hidden_reasoning, parameters_billions::float8 AS parameters_billions, reason, updated_at
