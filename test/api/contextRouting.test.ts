// Routing by context: a job goes only to a miner whose llama-server context (per slot)
// holds its prompt and its answer; a job too big for every miner waits for a bigger one
// or its queue deadline. Before this, a 512-token miner beside a 4096 one failed 19 of
// 20 jobs.
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue, withClient } from '../support/database.ts';
import { claimJob, createBusiness, registerMiner, submitChat, type TestBusiness } from '../support/factories.ts';
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
