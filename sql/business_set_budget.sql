-- Set or clear (NULL) a business's monthly token budget.
UPDATE mia.businesses SET monthly_token_budget = :budget::bigint, updated_at = now()
WHERE id = :business_id
RETURNING id
