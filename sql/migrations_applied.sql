-- The migrations this database has had applied (GET /health compares them with the build's).
SELECT name FROM mia_meta.migrations ORDER BY run_on, id
