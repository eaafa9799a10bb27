// Routing by context: a job goes only to a miner whose llama-server context (per slot)
// holds its prompt and its answer; a job too big for every miner waits for a bigger one
// or its queue deadline. Before this, a 512-token miner beside a 4096 one failed 19 of
// 20 jobs.
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue, withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness } from '../support/factories.ts';
import { eventually, fakeLlamaServer, fakeModel, MinerProcess, tempDir } from '../miner/helpers.ts';

// ~2,300 bytes of messages: about 600 tokens by the estimate, with max_tokens 16.
const long = 'My parcel has not arrived and I would like to know where it is now. '.repeat(32);

describe('routing jobs by context size', function () {
  this.timeout(30_000);
  let api: TestApi;
  let business: TestBusiness;

  before(async () => {
    api = await startTestApi();
    business = await createBusiness(api);
  });
  beforeEach(() => emptyQueue(api.databaseUrl));
  after(() => api?.close());

  const needOf = (id: string) =>
    withClient(api.databaseUrl, async (c) => (await c.query<{ need_tokens: number }>('SELECT need_tokens FROM mia.jobs WHERE id = $1', [id])).rows[0]!.need_tokens);

  it('estimates what a job needs: prompt bytes / 4 + max_tokens', async () => {
    const small = await submitChat(api, business, { message: 'Hi', max_tokens: 16 });
    const big = await submitChat(api, business, { message: long, max_tokens: 16 });
    assert.ok((await needOf(small.body.job_id)) < 100);
    const need = await needOf(big.body.job_id);
    assert.ok(need > 560 && need < 800, `need ${need}`);
  });

  it('gives a big job only to a miner with room for it, and a small one to either', async () => {
    const small = await registerMiner(api, { context_length: 256 });
    const big = await registerMiner(api, { context_length: 4096 });
    const job = await submitChat(api, business, { message: long, max_tokens: 16 });
    assert.equal((await claimJob(api, small)).status, 204, 'too big for 256 tokens');
    const taken = await claimJob(api, big);
    assert.equal(taken.body.job_id, job.body.job_id);
    const hi = await submitChat(api, business, { message: 'Hi', max_tokens: 16 });
    assert.equal((await claimJob(api, small)).body.job_id, hi.body.job_id);
  });

  it('hands parked miners the jobs that fit them: the big job to the big one', async () => {
    const small = await registerMiner(api, { context_length: 256 });
    const big = await registerMiner(api, { context_length: 4096 });
    // The small miner parks first, so it is the oldest waiter.
    const smallPoll = claimJob(api, small, 10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const bigPoll = claimJob(api, big, 10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const job = await submitChat(api, business, { message: long, max_tokens: 16 });
    const bigGot = await bigPoll;
    assert.equal(bigGot.body.job_id, job.body.job_id);
    const hi = await submitChat(api, business, { message: 'Hi', max_tokens: 16 });
    assert.equal((await smallPoll).body.job_id, hi.body.job_id);
  });

  it('leaves a job too big for every miner queued until its deadline: no_miner_available', async () => {
    const small = await registerMiner(api, { context_length: 256 });
    const res = await submitChat(api, business, { message: long, max_tokens: 16, queue_timeout: 1, wait: 10 });
    assert.equal(res.body.status, 'failed', JSON.stringify(res.body));
    assert.match(res.body.error, /^no_miner_available/);
    assert.equal((await claimJob(api, small)).status, 204);
  });

  it('mia-miner reports the context llama-server really gives a slot (/props), not the one it asked for', async () => {
    const state = tempDir();
    // --llama-args with its own -c: llama-server gets -c 512, not slots × 4096.
    const miner = new MinerProcess(
      ['run', '--backend-url', api.url, '--name', 'props-context', '--llama-server', fakeLlamaServer, '--model', fakeModel,
        '--state-dir', state.path, '--slots', '1', '--ctx-per-slot', '4096', '--gpu-layers', '0', '--llama-args=-c 512'],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi' },
    );
    try {
      await miner.waitFor(/the backend now routes by it/, 20_000);
      const ctx = await eventually(async () => {
        const rows = await withClient(api.databaseUrl, async (c) =>
          (await c.query<{ context_length: number }>(`SELECT context_length FROM mia.miners WHERE name = 'props-context'`)).rows);
        return rows[0]?.context_length === 512 ? 512 : undefined;
      }, 10_000, () => 'context_length 512');
      assert.equal(ctx, 512);
    } finally {
      await miner.kill();
      state.remove();
    }
  });
});

// Issue 17: routing that never strands a job. A job no online miner can hold fails fast
// with no_capable_miner (unless the business waits), and a long session's history is
// trimmed to the context that will serve it.
describe('routing that never strands a job', function () {
  this.timeout(60_000);
  let api: TestApi;
  let business: TestBusiness;

  before(async () => {
    api = await startTestApi({ env: { MIA_REAP_INTERVAL_MS: '200' } });
    business = await createBusiness(api);
  });
  beforeEach(async () => {
    await emptyQueue(api.databaseUrl);
    // Each test brings its own miners.
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.miners SET status = 'offline'`));
  });
  after(() => api?.close());

  const jobCount = () =>
    withClient(api.databaseUrl, async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM mia.jobs WHERE business_id = $1', [business.id])).rows[0]!.n);

  it('refuses at once with 503 no_capable_miner, naming the largest context online, a chat no online miner can hold', async () => {
    await registerMiner(api, { context_length: 256 });
    await registerMiner(api, { context_length: 512 });
    const before = await jobCount();
    const res = await submitChat(api, business, { message: long, max_tokens: 16, wait: 10 });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.error.code, 'no_capable_miner', res.text);
    assert.match(res.body.error.message, /largest context online is 512 tokens/);
    assert.equal(res.body.error.details.largest_context, 512);
    assert.ok(res.body.error.details.need_tokens > 512);
    assert.equal(await jobCount(), before, 'nothing was queued');
  });

  it('queues it for a bigger miner when the business asks to wait (X-Mia-Wait-For-Miner)', async () => {
    const small = await registerMiner(api, { context_length: 256 });
    const res = await submitChat(api, business, { message: long, max_tokens: 16 }, { 'X-Mia-Wait-For-Miner': 'true' });
    assert.equal(res.status, 202, res.text);
    assert.equal((await claimJob(api, small)).status, 204);
    const big = await registerMiner(api, { context_length: 4096 });
    assert.equal((await claimJob(api, big)).body.job_id, res.body.job_id);
  });

  it('answers a default /v1/chat/completions beside a 512-context miner with no_capable_miner in OpenAI shape', async () => {
    await registerMiner(api, { context_length: 512 });
    const res = await api.request('POST', '/v1/chat/completions', {
      token: business.api_key,
      body: { model: 'mia', messages: [{ role: 'user', content: 'Where is my order?' }] },
    });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.error.code, 'no_capable_miner');
    assert.match(res.body.error.message, /largest context online is 512 tokens/);
  });

  it('fails a queued job within seconds with no_capable_miner when the only miner big enough leaves', async () => {
    await registerMiner(api, { context_length: 256 });
    const big = await registerMiner(api, { context_length: 4096 });
    const job = await submitChat(api, business, { message: long, max_tokens: 16 });
    assert.equal(job.status, 202, job.text);
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.miners SET status = 'offline' WHERE id = $1`, [big.miner_id]));
    const res = await api.request('GET', `/job/${job.body.job_id}/result?wait=20`, { token: business.api_key });
    assert.equal(res.body.status, 'failed', res.text);
    assert.match(res.body.error, /^no_capable_miner: .*largest context online is 256 tokens/);
  });

  it('leaves a queued job to its deadline when its business waits, and every job while no miner is online', async () => {
    const big = await registerMiner(api, { context_length: 4096 });
    const waits = await submitChat(api, business, { message: long, max_tokens: 16, queue_timeout: 600 });
    const plain = await submitChat(api, business, { message: long, max_tokens: 16 });
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.miners SET status = 'offline' WHERE id = $1`, [big.miner_id]));
    // No miner online: nothing to judge by. Then a small one comes: only the plain job fails.
    await registerMiner(api, { context_length: 256 });
    const failed = await api.request('GET', `/job/${plain.body.job_id}/result?wait=20`, { token: business.api_key });
    assert.equal(failed.body.status, 'failed');
    const kept = await api.request('GET', `/job/${waits.body.job_id}/result`, { token: business.api_key });
    assert.equal(kept.body.status, 'queued', 'the business asked to wait');
  });

  it('keeps answering a 30-turn session of 3,000-character turns on a 4,096-context miner', async () => {
    const miner = await registerMiner(api, { context_length: 4096 });
    const sessionId = `long-${Date.now()}`;
    for (let turn = 0; turn < 30; turn += 1) {
      const sent = await submitChat(api, business, { session_id: sessionId, message: `Turn ${turn}: ${'x'.repeat(2990)}` });
      assert.equal(sent.status, 202, `turn ${turn}: ${sent.text}`);
      const claimed = await claimJob(api, miner);
      assert.equal(claimed.status, 200, `turn ${turn} was not given to the miner: ${claimed.text}`);
      assert.equal(claimed.body.job_id, sent.body.job_id);
      if (turn >= 2) assert.ok(claimed.body.messages.length > 2, `turn ${turn} keeps some history`);
      const done = await postResult(api, miner, claimed.body, { output: `Answer ${turn}: ${'y'.repeat(2990)}`, tokens_generated: 50 });
      assert.equal(done.status, 200, done.text);
    }
    const needs = await withClient(api.databaseUrl, async (c) =>
      (await c.query<{ need: number }>('SELECT max(need_tokens) AS need FROM mia.jobs WHERE session_id = $1', [sessionId])).rows[0]!.need);
    assert.ok(needs <= 4096, `need ${needs}`);
  });
});

// Issue 17 (SPEC §3): jobs name a model, and only a miner serving it takes them.
describe('routing jobs by model', function () {
  this.timeout(60_000);
  let api: TestApi;
  let business: TestBusiness;

  before(async () => {
    api = await startTestApi({ env: { MIA_REAP_INTERVAL_MS: '200' } });
    business = await createBusiness(api);
  });
  beforeEach(async () => {
    await emptyQueue(api.databaseUrl);
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.miners SET status = 'offline'`));
  });
  after(() => api?.close());

  const modelOf = (id: string) =>
    withClient(api.databaseUrl, async (c) => (await c.query<{ model: string | null }>('SELECT model FROM mia.jobs WHERE id = $1', [id])).rows[0]!.model);

  it('never gives a job for model B to a model-A miner', async () => {
    const a = await registerMiner(api, { model: 'model-a' });
    const b = await registerMiner(api, { model: 'model-b' });
    const jobs = [];
    for (let i = 0; i < 3; i += 1) jobs.push((await submitChat(api, business, { model: 'model-b', message: `for b ${i}` })).body.job_id as string);
    assert.equal((await claimJob(api, a)).status, 204, 'the model-A miner gets nothing');
    for (const id of jobs) {
      const claimed = await claimJob(api, b);
      assert.equal(claimed.body.job_id, id);
      assert.equal((await postResult(api, b, claimed.body)).status, 200);
      assert.equal((await claimJob(api, a)).status, 204, 'the model-A miner gets nothing');
    }
  });

  it('places each job of a claim shared by parked miners of both models on its own model', async () => {
    const a = await registerMiner(api, { model: 'model-a' });
    const b = await registerMiner(api, { model: 'model-b' });
    // The model-A miner parks first: the oldest waiter.
    const aPoll = claimJob(api, a, 3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const bPoll = claimJob(api, b, 10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const job = await submitChat(api, business, { model: 'model-b' });
    assert.equal((await bPoll).body.job_id, job.body.job_id);
    assert.equal((await aPoll).status, 204);
  });

  it('gives a job for any model (the default) to either miner', async () => {
    const a = await registerMiner(api, { model: 'model-a' });
    const job = await submitChat(api, business, {});
    assert.equal(await modelOf(job.body.job_id), null);
    assert.equal((await claimJob(api, a)).body.job_id, job.body.job_id);
  });

  it('refuses a chat for a model no online miner serves: 404 model_not_found, as on /v1', async () => {
    await registerMiner(api, { model: 'model-a' });
    const res = await submitChat(api, business, { model: 'model-c' });
    assert.equal(res.status, 404, res.text);
    assert.equal(res.body.error.code, 'model_not_found');
  });

  it('fails a queued job within seconds with no_capable_miner when the only miner of its model leaves', async () => {
    await registerMiner(api, { model: 'model-a' });
    const b = await registerMiner(api, { model: 'model-b' });
    const job = await submitChat(api, business, { model: 'model-b' });
    const waits = await submitChat(api, business, { model: 'model-b', queue_timeout: 600 });
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.miners SET status = 'offline' WHERE id = $1`, [b.miner_id]));
    const res = await api.request('GET', `/job/${job.body.job_id}/result?wait=20`, { token: business.api_key });
    assert.equal(res.body.status, 'failed', res.text);
    assert.equal(res.body.error, "no_capable_miner: no online miner serves the model 'model-b'");
    const kept = await api.request('GET', `/job/${waits.body.job_id}/result`, { token: business.api_key });
    assert.equal(kept.body.status, 'queued', 'the business asked to wait');
  });

  it('lists in /v1/models only what is routable now: not the model of a suspended or draining miner', async () => {
    await registerMiner(api, { model: 'model-a' });
    const suspended = await registerMiner(api, { model: 'model-s' });
    const draining = await registerMiner(api, { model: 'model-d' });
    await withClient(api.databaseUrl, async (c) => {
      await c.query(`UPDATE mia.miners SET suspended_at = now() WHERE id = $1`, [suspended.miner_id]);
      await c.query(`UPDATE mia.miners SET status = 'draining' WHERE id = $1`, [draining.miner_id]);
    });
    const res = await api.request('GET', '/v1/models', { token: business.api_key });
    const ids = (res.body.data as { id: string }[]).map((m) => m.id);
    assert.ok(ids.includes('model-a'), ids.join());
    assert.ok(!ids.includes('model-s') && !ids.includes('model-d'), ids.join());
    assert.equal((await submitChat(api, business, { model: 'model-s' })).status, 404);
  });

  it('routes /v1/chat/completions by its model, and keeps model_not_found for an unknown one', async () => {
    const a = await registerMiner(api, { model: 'model-a' });
    const b = await registerMiner(api, { model: 'model-b' });
    const call = api.request('POST', '/v1/chat/completions', {
      token: business.api_key,
      body: { model: 'model-b', max_tokens: 16, messages: [{ role: 'user', content: 'Where is my order?' }] },
    });
    const job = await eventually(async () => {
      const rows = await withClient(api.databaseUrl, async (c) =>
        (await c.query<{ id: string; model: string | null }>(`SELECT id, model FROM mia.jobs WHERE business_id = $1 AND status = 'queued'`, [business.id])).rows);
      return rows[0];
    });
    assert.equal(job.model, 'model-b');
    assert.equal((await claimJob(api, a)).status, 204);
    const claimed = await claimJob(api, b);
    assert.equal(claimed.body.job_id, job.id);
    await postResult(api, b, claimed.body);
    assert.equal((await call).status, 200);
    const unknown = await api.request('POST', '/v1/chat/completions', {
      token: business.api_key,
      body: { model: 'model-z', messages: [{ role: 'user', content: 'Hi' }] },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'model_not_found');
  });
});
