// A miner's failure reaches the business in our words (issue 17: "llama-server errors
// reach businesses as our error codes"). The miner is a stranger: its text stays in
// jobs.error for the operator, the business reads our sentence for the code it sent;
// and a context_exceeded report with llama-server's prompt count re-routes the job.
import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat } from '../support/factories.ts';

describe('miners failures in our words', () => {
  const api = useTestApi();
  const strangerText = 'llama-server answered 400: call +1 415 555 0100 or see https://evil.example/help';

  const failWith = (miner: Awaited<ReturnType<typeof registerMiner>>, job: { job_id: string; lease_token: string }, fields: Record<string, unknown>) =>
    postResult(api, miner, job, { success: false, output: undefined, tokens_generated: undefined, error: strangerText, ...fields });
  const jobRow = (id: string) => withClient(api.databaseUrl, async (c) => (await c.query<{ status: string; error: string; error_code: string | null; need_tokens: number; max_tokens: number }>(
    'SELECT status, error, error_code, need_tokens, max_tokens FROM mia.jobs WHERE id = $1', [id])).rows[0]!);

  it('a job failed by miners tells the business the code and our sentence, never the miner text', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business, { max_tokens: 64 });
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const claimed = await claimJob(api, miner);
      assert.equal(claimed.status, 200, claimed.text);
      assert.equal((await failWith(miner, claimed.body, { error_code: 'invalid_request' })).status, 200);
    }
    const row = await jobRow(chat.body.job_id);
    assert.equal(row.status, 'failed');
    assert.equal(row.error, strangerText, 'the miner text is kept for the operator');
    assert.equal(row.error_code, 'invalid_request');

    const result = await api.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key });
    assert.equal(result.body.status, 'failed');
    assert.match(result.body.error, /^invalid_request: the model server refused the request/);
    assert.doesNotMatch(result.text, /evil\.example|555 0100/);

    const stream = await fetch(`${api.url}/job/${chat.body.job_id}/stream`, { headers: { authorization: `Bearer ${business.api_key}` } });
    const text = await stream.text();
    assert.match(text, /event: error\ndata: .*"code":"job_failed".*invalid_request: /);
    assert.doesNotMatch(text, /evil\.example/);
  });

  it('a miner that sends no code is "unspecified"; a backend reason is shown as written', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business, { max_tokens: 64 });
    const claimed = await claimJob(api, miner);
    await failWith(miner, claimed.body, {});
    assert.equal((await jobRow(chat.body.job_id)).error_code, 'unspecified');
    // The operator cancels it: the backend's own reason, no code.
    const cancelled = await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
    assert.ok(cancelled.status < 300, cancelled.text);
    const row = await jobRow(chat.body.job_id);
    assert.equal(row.status, 'cancelled');
    assert.equal(row.error_code, null, 'the latest reason is the backend\'s');
    const result = await api.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key });
    assert.equal(result.body.error, row.error);
  });

  it('context_exceeded with llama-server\'s prompt count raises the job\'s need, at most doubling it', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business, { max_tokens: 64 });
    const before = await jobRow(chat.body.job_id);
    const claimed = await claimJob(api, miner);
    // An honest count: the prompt was 40 tokens longer than estimated.
    const honest = before.need_tokens - before.max_tokens + 40;
    await failWith(miner, claimed.body, { error_code: 'context_exceeded', prompt_tokens: honest });
    const raised = await jobRow(chat.body.job_id);
    assert.equal(raised.error_code, 'context_exceeded');
    assert.equal(raised.need_tokens, honest + before.max_tokens);

    // A lie (a million tokens) at most doubles it: the job moves to bigger miners, it is not made unroutable at once.
    const again = await claimJob(api, miner);
    assert.equal(again.status, 200, again.text);
    await failWith(miner, again.body, { error_code: 'context_exceeded', prompt_tokens: 1_000_000 });
    assert.equal((await jobRow(chat.body.job_id)).need_tokens, 2 * raised.need_tokens);
  });

  it('refuses an unknown code with a 400 naming it', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    await submitChat(api, business);
    const claimed = await claimJob(api, miner);
    const res = await failWith(miner, claimed.body, { error_code: 'gpu_on_fire' });
    assert.equal(res.status, 400);
    assert.match(res.text, /error_code/);
  });
});
