-- Up Migration
-- The OpenAI sampling parameters a chat asked for (issue 19): `stop`, `top_p`, `seed`,
-- `presence_penalty`, `frequency_penalty`, `response_format`, as the client sent them
-- and api/routes/openai.ts checked them. One jsonb column, not one column each: the
-- backend never reads them, it hands them to the miner with the claim, which puts them
-- into the llama-server request body as they are. NULL: none given.
ALTER TABLE mia.jobs ADD COLUMN sampling jsonb;
COMMENT ON COLUMN mia.jobs.sampling IS
  'OpenAI sampling parameters (stop, top_p, seed, presence_penalty, frequency_penalty, response_format) passed to llama-server as given; NULL: none.';

-- Down Migration
ALTER TABLE mia.jobs DROP COLUMN sampling;
