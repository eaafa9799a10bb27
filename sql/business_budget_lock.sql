-- Serialises the submits of a business that has a budget, so the check
-- (sql/business_budget_check.sql, a later statement with a fresh snapshot) and
-- the reservation (sql/job_create.sql) of one submit see every earlier one.
-- Lock order (sql/LOCK_ORDER.md): the only place a business row is locked
-- before jobs; the transaction then only inserts a new job.
SELECT id
FROM mia.businesses
WHERE id = :business_id AND monthly_token_budget IS NOT NULL
FOR NO KEY UPDATE
