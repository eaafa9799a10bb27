-- A finished job's whole conversation, for POST /v1/responses `previous_response_id`
-- (and `item_reference`): the messages the miner got (our system message first), what
-- it answered, and its session, so the next turn continues the same chat. Only the
-- business's own jobs (the caller passes its id).
SELECT id, session_id, status, messages, output, tool_calls
FROM mia.jobs
WHERE id = :id AND business_id = :business_id
