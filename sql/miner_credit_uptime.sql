-- Uptime credit: every miner online now (not offline, seen within the
-- interval) and not suspended earns :credits for the current interval. The
-- interval is a fixed bin of the clock (date_bin), and the ledger's unique
-- (miner_id, period_start) makes a second run in the same bin, on any
-- replica, credit nothing.
WITH period AS (
  SELECT date_bin(make_interval(secs => :interval_s::float8), now(), timestamptz '2000-01-01 00:00:00+00') AS start
), credited AS (
  INSERT INTO mia.miner_credits (miner_id, kind, period_start, credits)
  SELECT m.id, 'uptime', p.start, :credits::numeric
  FROM mia.miners AS m CROSS JOIN period AS p
  WHERE m.status <> 'offline' AND m.suspended_at IS NULL
    AND m.last_active >= now() - make_interval(secs => :interval_s::float8)
  ON CONFLICT (miner_id, period_start) WHERE kind = 'uptime' DO NOTHING
  RETURNING miner_id
)
SELECT count(*)::int AS miners_credited FROM credited
