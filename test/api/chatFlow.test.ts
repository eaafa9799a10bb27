import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat } from '../support/factories.ts';

describe('chat flow, end to end over HTTP', () => {
  const api = useTestApi();

  it('takes a chat from 202 through a miner to a completed result with counted tokens', async () => {
    const business = await createBusiness(api, { system_prompt: 'You sell anvils. Prices: 100 EUR.' });
    const chat = await submitChat(api, business, { message: 'Hola, ¿cuánto cuesta un yunque?', wait: 0 });
    assert.equal(chat.status, 202);
    assert.equal(chat.body.status, 'queued');
    assert.ok(chat.body.session_id, 'a session id is issued when none is sent');

    const miner = await registerMiner(api);
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.status, 200);
    assert.equal(claimed.body.job_id, chat.body.job_id);
    const messages = claimed.body.messages as { role: string; content: string }[];
    assert.equal(messages.at(-1)?.content, 'Hola, ¿cuánto cuesta un yunque?');
    assert.equal(messages[0]?.role, 'system');
    assert.match(messages[0]!.content, /You sell anvils/);
    assert.match(messages[0]!.content, /language of the customer/);

    const result = await postResult(api, miner, claimed.body, { output: 'Cuesta 100 euros.', tokens_generated: 7 });
    assert.equal(result.status, 200, result.text);
    assert.equal(result.body.outcome, 'accepted');

    const outcome = await api.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key });
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body.status, 'completed');
    assert.equal(outcome.body.response, 'Cuesta 100 euros.');
    assert.equal(outcome.body.tokens_generated, 7);

    const list = await api.request('GET', '/miners', { token: business.api_key });
    const row = list.body.miners.find((m: { miner_id: string }) => m.miner_id === miner.miner_id);
    assert.equal(row.job_count, 1);
    assert.equal(row.total_tokens_generated, 7);
    assert.equal('ip_address' in row, false, 'businesses do not see miner IP addresses');
  });

  it('answers a waiting POST /chat with 200 as soon as a long-polling miner posts the result', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const poll = claimJob(api, miner, 10);
    const chat = api.request('POST', '/chat', { token: business.api_key, body: { message: 'Where is my order?' } });
    const claimed = await poll;
    assert.equal(claimed.status, 200);
    await postResult(api, miner, claimed.body, { output: 'It ships tomorrow.', tokens_generated: 4 });
    const answered = await chat;
    assert.equal(answered.status, 200);
    assert.equal(answered.body.status, 'completed');
    assert.equal(answered.body.response, 'It ships tomorrow.');
    assert.equal(answered.body.tokens_generated, 4);
  });

  it('sends the earlier exchange of a session with its next message', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const first = await submitChat(api, business, { message: 'My bike has a flat tyre.', session_id: 'sess-42' });
    const job1 = await claimJob(api, miner);
    await postResult(api, miner, job1.body, { output: 'Bring it in, we fix it in an hour.' });

    const second = await submitChat(api, business, { message: 'How much will it cost?', session_id: 'sess-42' });
    assert.equal(second.body.session_id, first.body.session_id);
    const job2 = await claimJob(api, miner);
    const contents = (job2.body.messages as { role: string; content: string }[]).map((m) => `${m.role}:${m.content}`);
    assert.deepEqual(contents.slice(1), [
      'user:My bike has a flat tyre.',
      'assistant:Bring it in, we fix it in an hour.',
      'user:How much will it cost?',
    ]);
  });

  it('keeps sessions of different businesses apart even with the same session id', async () => {
    const a = await createBusiness(api);
    const b = await createBusiness(api);
    const miner = await registerMiner(api);
    await submitChat(api, a, { message: 'secret of A', session_id: 'shared' });
    await postResult(api, miner, (await claimJob(api, miner)).body, { output: 'answer for A' });
    await submitChat(api, b, { message: 'question of B', session_id: 'shared' });
    const job = await claimJob(api, miner);
    const text = JSON.stringify(job.body.messages);
    assert.equal(text.includes('secret of A'), false);
    assert.equal(text.includes('answer for A'), false);
  });

  it('puts the business system prompt and the request context into the system message', async () => {
    const business = await createBusiness(api, { system_prompt: 'Shop hours: 9-17.' });
    const miner = await registerMiner(api);
    await submitChat(api, business, { message: 'When are you open?', context: 'Customer tier: gold' });
    const job = await claimJob(api, miner);
    assert.match(job.body.messages[0].content, /Shop hours: 9-17\./);
    assert.match(job.body.messages[0].content, /Customer tier: gold/);
    assert.equal(job.body.context, 'Customer tier: gold');
  });

  it('returns the original job for a repeated Idempotency-Key and creates no second one', async () => {
    const business = await createBusiness(api);
    const first = await submitChat(api, business, { message: 'once' }, { 'Idempotency-Key': 'order-1' });
    const again = await submitChat(api, business, { message: 'once' }, { 'Idempotency-Key': 'order-1' });
    assert.equal(again.body.job_id, first.body.job_id);
    const other = await createBusiness(api);
    const theirs = await submitChat(api, other, { message: 'once' }, { 'Idempotency-Key': 'order-1' });
    assert.notEqual(theirs.body.job_id, first.body.job_id, 'keys are per business');
  });

  it('cancels a queued job; the late result of its miner is refused and nothing changes', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business);
    const claimed = await claimJob(api, miner);
    const cancel = await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.status, 'cancelled');
    const late = await postResult(api, miner, claimed.body);
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'lease_lost');
    const outcome = await api.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key });
    assert.equal(outcome.body.status, 'cancelled');
    assert.equal(outcome.body.response, null);
    const again = await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'job_finished');
  });

  it('requeues a job the miner reports as failed, and dead-letters it after max_attempts', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const claimed = await claimJob(api, miner);
      assert.equal(claimed.body.attempt, attempt);
      const failed = await postResult(api, miner, claimed.body, { success: false, error: 'CUDA out of memory', error_code: 'generation_error', output: undefined, tokens_generated: undefined });
      assert.equal(failed.status, 200);
      assert.equal(failed.body.status, attempt < 3 ? 'queued' : 'failed');
    }
    const outcome = await api.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key });
    assert.equal(outcome.body.status, 'failed');
    // The business reads our words for the miner's code, not the miner's own (a stranger's) text.
    assert.equal(outcome.body.error, 'generation_error: the model server failed while generating');
    assert.equal((await claimJob(api, miner)).status, 204);
  });

  it('lets the operator requeue a dead-lettered job, which a miner can then claim and complete', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const claimed = await claimJob(api, miner);
      await postResult(api, miner, claimed.body, { success: false, error: 'boom', output: undefined, tokens_generated: undefined });
    }
    assert.equal((await api.request('POST', `/job/${chat.body.job_id}/requeue`, { token: business.api_key })).status, 401);
    const requeued = await api.request('POST', `/job/${chat.body.job_id}/requeue`, { token: api.adminToken });
    assert.equal(requeued.status, 200, requeued.text);
    assert.equal(requeued.body.status, 'queued');
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.body.job_id, chat.body.job_id);
    await postResult(api, miner, claimed.body, { output: 'second life' });
    const again = await api.request('POST', `/job/${chat.body.job_id}/requeue`, { token: api.adminToken });
    assert.equal(again.status, 409, 'a completed job stays completed');
  });

  it('long-polls GET /job/{id}/result until the answer arrives', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business);
    const waiting = api.request('GET', `/job/${chat.body.job_id}/result?wait=10`, { token: business.api_key });
    // Long-poll: the waiting client briefly locks the job to ask for a completion NOTIFY.
    const claimed = await claimJob(api, miner, 5);
    assert.equal(claimed.status, 200);
    await postResult(api, miner, claimed.body, { output: 'done' });
    const result = await waiting;
    assert.equal(result.status, 200);
    assert.equal(result.body.response, 'done');
  });

  it('accepts an identical repeat of a result once and refuses a different one', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    await submitChat(api, business);
    const claimed = await claimJob(api, miner);
    assert.equal((await postResult(api, miner, claimed.body, { output: 'same' })).status, 200);
    const repeat = await postResult(api, miner, claimed.body, { output: 'same' });
    assert.equal(repeat.status, 200);
    assert.equal(repeat.body.outcome, 'duplicate');
    const different = await postResult(api, miner, claimed.body, { output: 'other' });
    assert.equal(different.status, 409);
    assert.equal(different.body.error.code, 'result_conflict');
    const list = await api.request('GET', '/miners', { token: api.adminToken });
    const row = list.body.miners.find((m: { miner_id: string }) => m.miner_id === miner.miner_id);
    assert.equal(row.job_count, 1, 'the repeat was not counted');
  });
});
