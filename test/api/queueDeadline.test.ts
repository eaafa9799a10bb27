// Every job ends, also one no miner can take: past its queue deadline it fails with
// `no_miner_available`, and whoever waits for it hears so. A job claimed in time is
// not touched by the deadline, however long its miner takes.
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue, withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness } from '../support/factories.ts';

describe('queue deadlines', function () {
  this.timeout(30_000);
  let api: TestApi;
  let business: TestBusiness;

  before(async () => {
    api = await startTestApi({ env: { MIA_QUEUE_TIMEOUT_SECONDS: '3600', MIA_REAP_INTERVAL_MS: '200' } });
    business = await createBusiness(api);
  });
  beforeEach(() => emptyQueue(api.databaseUrl));
  after(() => api?.close());

  const row = (id: string) =>
    withClient(api.databaseUrl, async (c) =>
      (await c.query<{ status: string; error: string | null; queue_deadline: Date | null; created_at: Date }>(
        `SELECT status, error, queue_deadline, created_at FROM mia.jobs WHERE id = $1`, [id])).rows[0]!);

  it('fails a job nobody claims within queue_timeout, and the waiting /chat hears it', async () => {
    const res = await submitChat(api, business, { message: 'Anyone there?', queue_timeout: 1, wait: 10 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'failed');
    assert.match(res.body.error, /^no_miner_available: no miner took the job within 1 s$/);
    const job = await row(res.body.job_id);
    assert.equal(job.status, 'failed');
  });

  it('sets the default deadline from MIA_QUEUE_TIMEOUT_SECONDS', async () => {
    const res = await submitChat(api, business, { wait: 0 });
    assert.equal(res.status, 202, res.text);
    const job = await row(res.body.job_id);
    assert.equal(Math.round((job.queue_deadline!.getTime() - job.created_at.getTime()) / 1000), 3600);
  });

  it('leaves a job claimed before its deadline to its miner', async () => {
    const miner = await registerMiner(api);
    const res = await submitChat(api, business, { queue_timeout: 1, wait: 0 });
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.status, 200, claimed.text);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await row(res.body.job_id)).status, 'running');
    const done = await postResult(api, miner, claimed.body);
    assert.equal(done.status, 200, done.text);
    assert.equal((await row(res.body.job_id)).status, 'completed');
  });

  it('names the failed attempts when a requeued job runs out of time', async () => {
    const miner = await registerMiner(api);
    const res = await submitChat(api, business, { queue_timeout: 2, wait: 0 });
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.status, 200, claimed.text);
    const failed = await api.request('POST', '/job/result', {
      token: miner.auth_key,
      body: { job_id: claimed.body.job_id, miner_id: miner.miner_id, lease_token: claimed.body.lease_token, success: false, error: 'context overflow', error_code: 'context_exceeded' },
    });
    assert.equal(failed.status, 200, failed.text);
    // Nobody claims it again; the deadline ends it.
    const result = await api.request('GET', `/job/${res.body.job_id}/result?wait=10`, { token: business.api_key });
    assert.equal(result.body.status, 'failed', JSON.stringify(result.body));
    // The miner's own words stay with the operator; the business reads its code.
    assert.match(result.body.error, /^no_miner_available: .*after 1 failed attempt\(s\); last: context_exceeded\)$/);
  });

  it('refuses a queue_timeout out of range with 400 naming it', async () => {
    const res = await submitChat(api, business, { queue_timeout: 0 });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /queue_timeout/);
  });
});
