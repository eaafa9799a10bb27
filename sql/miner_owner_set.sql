-- A miner registered with a business's enrolment token becomes that business's own.
UPDATE mia.miners SET owner_business_id = :business_id WHERE id = :miner_id
RETURNING id
