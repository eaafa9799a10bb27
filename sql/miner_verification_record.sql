-- Count a canary verdict for a miner and model (migration 0170): `verified` once
-- :verify_count passes in a row; a failure clears it and starts the count again.
INSERT INTO mia.miner_verifications AS v (miner_id, model, passed, failed, streak, verified_at)
VALUES (:miner_id, :model, :pass::boolean::int, (NOT :pass::boolean)::int, :pass::boolean::int,
        CASE WHEN :pass::boolean AND 1 >= :verify_count::int THEN now() END)
ON CONFLICT (miner_id, model) DO UPDATE
SET passed = v.passed + excluded.passed,
    failed = v.failed + excluded.failed,
    streak = CASE WHEN :pass::boolean THEN v.streak + 1 ELSE 0 END,
    verified_at = CASE WHEN NOT :pass::boolean THEN NULL
                       WHEN v.streak + 1 >= :verify_count::int THEN coalesce(v.verified_at, now())
                       ELSE v.verified_at END,
    updated_at = now()
RETURNING passed, failed, streak, verified_at
