-- Up Migration
-- mia.model_rate (migration 0040) as PL/pgSQL, same answer. As a SQL function whose body
-- holds sub-selects it is never inlined, and Postgres planned that body again in every
-- statement that called it: the credit of every accepted result (sql/miner_credit_job.sql)
-- spent about 0.45 ms of its ~1.1 ms round trip planning it (the credit statement timed
-- 400 times with each version on the tests' PostgreSQL 15, 2026-12-06: p50 1.05-1.14 ms
-- as SQL, 0.58-0.69 ms as PL/pgSQL). PL/pgSQL keeps its plans for the session, as
-- mia.on_probation and mia.miner_held do (migration 0180). PostgreSQL 18 (the embedded
-- server) caches SQL functions' plans itself: there the bench's credit statement showed
-- no gain (0.58 ms a call as SQL at 01:04, 0.66 ms as PL/pgSQL at 02:05 in a run where
-- the claim was 8% slower too; pg_stat_statements, scenario 2). The gain is for servers
-- up to 17, such as the tests' PostgreSQL 15.
CREATE OR REPLACE FUNCTION mia.model_rate(p_model text, p_at timestamptz) RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN coalesce(
    (SELECT credits_per_token FROM mia.model_rates
     WHERE model = p_model AND effective_from <= p_at ORDER BY effective_from DESC, id DESC LIMIT 1),
    (SELECT credits_per_token FROM mia.model_rates
     WHERE model = 'default' AND effective_from <= p_at ORDER BY effective_from DESC, id DESC LIMIT 1),
    1);
END
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION mia.model_rate(p_model text, p_at timestamptz) RETURNS numeric
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT credits_per_token FROM mia.model_rates
     WHERE model = p_model AND effective_from <= p_at ORDER BY effective_from DESC, id DESC LIMIT 1),
    (SELECT credits_per_token FROM mia.model_rates
     WHERE model = 'default' AND effective_from <= p_at ORDER BY effective_from DESC, id DESC LIMIT 1),
    1)
$$;
