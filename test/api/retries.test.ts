// Retries that move on: a job a miner reported failed waits (run_after, doubling per
// attempt) and then goes to a miner that has not tried it while one is online, so a
// misconfigured miner beside a healthy one cannot burn a job's attempts in a burst.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue, withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';

describe('retries move on', function () {
  this.timeout(60_000);
  let api: TestApi;
  let business: TestBusiness;

  before(async () => {
    api = await startTestApi({ env: { MIA_RETRY_BACKOFF_SECONDS: '0.5', MIA_RETRY_AVOID_SECONDS: '60' } });
    business = await createBusiness(api);
  });
  beforeEach(async () => {
    await emptyQueue(api.databaseUrl);
    // Only the miners a test registers count as "another online miner".
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.miners SET status = 'offline'`));
  });
  after(() => api?.close());

  const fail = (miner: TestMiner, job: { job_id: string; lease_token: string }, error = 'the prompt exceeds the available context size') =>
    postResult(api, miner, job, { success: false, error, output: undefined, tokens_generated: undefined });
  const jobRow = (id: string) =>
    withClient(api.databaseUrl, async (c) =>
      (await c.query<{ status: string; attempts: number; wait_s: number; attempted_by: string[] }>(
        `SELECT status, attempts, extract(epoch FROM run_after - now())::float8 AS wait_s, attempted_by::text[] AS attempted_by
         FROM mia.jobs WHERE id = $1`, [id])).rows[0]!);

  // The database's clock around a call, and the job's run_after on the same clock: the
  // backoff is judged against the failure's own transaction time, never against how long
  // this machine took between the failure and the read (that made the test flaky: "waits 0.216 s").
  const dbClock = () =>
    withClient(api.databaseUrl, async (c) =>
      (await c.query<{ t: number }>(`SELECT extract(epoch FROM clock_timestamp())::float8 AS t`)).rows[0]!.t);
  const runAfter = (id: string) =>
    withClient(api.databaseUrl, async (c) =>
      (await c.query<{ t: number }>(`SELECT extract(epoch FROM run_after)::float8 AS t FROM mia.jobs WHERE id = $1`, [id])).rows[0]!.t);
  async function backoffOf(id: string, failing: () => Promise<unknown>): Promise<{ min: number; max: number }> {
    const before = await dbClock();
    await failing();
    const after = await dbClock();
    const at = await runAfter(id);
    return { min: at - after, max: at - before };
  }

  it('backs a failed job off, doubling per attempt; a lone miner then retries it', async () => {
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business, { wait: 0 });
    const first = await claimJob(api, miner);
    let status = '';
    const one = await backoffOf(chat.body.job_id, async () => { status = (await fail(miner, first.body)).body.status; });
    assert.equal(status, 'queued');
    // run_after = the failure's transaction time + 0.5 s, that time lying between the two clock reads.
    assert.ok(one.min <= 0.5 + 1e-3 && one.max >= 0.5 - 1e-3, `backoff between ${one.min} and ${one.max} s`);
    assert.equal((await claimJob(api, miner)).status, 204, 'not claimable during the backoff');
    await sleep(600);
    const second = await claimJob(api, miner);
    assert.equal(second.body.job_id, chat.body.job_id, 'no other miner is online: the same one retries');
    assert.equal(second.body.attempt, 2);
    const two = await backoffOf(chat.body.job_id, () => fail(miner, second.body));
    assert.ok(two.min <= 1 + 1e-3 && two.max >= 1 - 1e-3, `backoff between ${two.min} and ${two.max} s (doubled)`);
  });

  it('hands a failed job to a miner that has not tried it, while one is online', async () => {
    const small = await registerMiner(api, { name: `small-${Date.now()}` });
    const big = await registerMiner(api, { name: `big-${Date.now()}` });
    const chat = await submitChat(api, business, { wait: 0 });
    const first = await claimJob(api, small);
    await fail(small, first.body);
    await sleep(600);
    assert.equal((await claimJob(api, small)).status, 204, 'the miner that failed it does not get it back');
    const retry = await claimJob(api, big);
    assert.equal(retry.body.job_id, chat.body.job_id);
    assert.equal((await postResult(api, big, retry.body, { output: 'Here it is.' })).status, 200);
    assert.deepEqual((await jobRow(chat.body.job_id)).attempted_by, [small.miner_id, big.miner_id]);
  });

  it('gives it back to the miner that failed it once no other miner is online', async () => {
    const small = await registerMiner(api, { name: `small-${Date.now()}` });
    const big = await registerMiner(api, { name: `big-${Date.now()}` });
    await submitChat(api, business, { wait: 0 });
    const first = await claimJob(api, small);
    await fail(small, first.body);
    await sleep(600);
    assert.equal((await claimJob(api, small)).status, 204);
    await api.request('POST', `/miner/${big.miner_id}/status`, { token: big.auth_key, body: { status: 'offline' } });
    const retry = await claimJob(api, small);
    assert.equal(retry.body.job_id, first.body.job_id);
  });

  it('a miner that fails every job at once beside a healthy one: every job completes, on the healthy one', async () => {
    const broken = await registerMiner(api, { name: `broken-${Date.now()}`, slots: 4 });
    const healthy = await registerMiner(api, { name: `healthy-${Date.now()}`, slots: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await submitChat(api, business, { message: `Question ${i}`, wait: 0 })).body.job_id);
    let stop = false;
    let brokenFailures = 0;
    const brokenLoop = (async () => {
      while (!stop) {
        const res = await claimJob(api, broken, 1);
        if (res.status === 200) {
          await fail(broken, res.body);
          brokenFailures += 1;
        }
      }
    })();
    const healthyLoop = (async () => {
      while (!stop) {
        const res = await claimJob(api, healthy, 1);
        if (res.status !== 200) continue;
        await sleep(20); // it takes a moment to generate; the broken one fails at once
        await postResult(api, healthy, res.body, { output: 'An answer.' });
      }
    })();
    const deadline = Date.now() + 40_000;
    const states = async () =>
      withClient(api.databaseUrl, async (c) =>
        (await c.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM mia.jobs WHERE id = ANY($1)`, [ids])).rows);
    while (Date.now() < deadline && (await states()).some((r) => r.status !== 'completed' && r.status !== 'failed')) await sleep(200);
    stop = true;
    await Promise.all([brokenLoop, healthyLoop]);
    const rows = await states();
    assert.deepEqual(rows.filter((r) => r.status !== 'completed'), [], 'every job completed');
    assert.ok(rows.every((r) => r.attempts <= 2), 'the broken miner had at most one go at each job');
    process.stdout.write(`      checked: 20 jobs completed on the healthy miner; the broken one failed ${brokenFailures} attempts\n`);
  });
});
