import assert from 'node:assert/strict';
import { startApiProcess, type ApiProcess } from '../support/apiProcess.ts';
import { createTestDatabase, emptyQueue, withClient, type TestDatabase } from '../support/database.ts';
import type { ApiResponse } from '../support/http.ts';
import { checked, client, createBusiness, injected, registerMiner, sleep, until, type Client } from './chaosKit.ts';

const terminateRounds = 50;
const terminateEveryMs = 30;
const maxLoadRequests = 20_000;

describe("chaos: the API's Postgres connections terminated under load", function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let api: ApiProcess;

  before(async () => {
    database = await createTestDatabase();
    api = await startApiProcess(database.url, {
      // Only NOTIFY can wake a parked miner: the slow fallback poll never fires during the test.
      MIA_FALLBACK_POLL_MS: '600000',
      MIA_RATE_LIMIT_CHAT_PER_SECOND: '0',
    });
  });
  // A failure here is read from the API's own log: print its tail.
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stdout.write(`API output (tail):\n${api.output().slice(-4000)}\n`);
  });
  after(async () => {
    await api?.stop();
    await database?.drop();
  });

  it('answers 503 and never 500 meanwhile, recovers without a restart, and LISTEN wakes a parked miner again', async () => {
    const http = client(api.url);
    const business = await createBusiness(http);
    const miner = await registerMiner(http);
    const pid = api.child.pid;

    const during = new Map<number, number>();
    const after = new Map<number, number>();
    let histogram = during;
    const unexpected: string[] = [];
    let sent = 0;
    let running = true;
    const record = (what: string, status: number, text: string) => {
      histogram.set(status, (histogram.get(status) ?? 0) + 1);
      if (status >= 500 && status !== 503) unexpected.push(`${what}: ${status} ${text.slice(0, 200)}`);
      if (status === 503 && !/"code":"database_unavailable"|"database":"unreachable"/.test(text)) unexpected.push(`${what}: 503 without our shape: ${text.slice(0, 200)}`);
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const call = async (what: string, run: (api: Client) => Promise<ApiResponse<any>>) => {
      sent += 1;
      const res = await run(http);
      record(what, res.status, res.text);
      return res;
    };

    async function businessLoop(): Promise<void> {
      while (running && sent < maxLoadRequests) {
        const chat = await call('POST /chat', (a) => a.request('POST', '/chat', { token: business.api_key, body: { message: 'load', wait: 0 } }));
        if (chat.status === 202) await call('GET /job/{id}/result', (a) => a.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key }));
        await call('GET /health', (a) => a.request('GET', '/health'));
      }
    }
    async function minerLoop(): Promise<void> {
      while (running && sent < maxLoadRequests) {
        const job = await call('GET /job/next', (a) => a.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=0`, { token: miner.auth_key }));
        if (job.status !== 200) continue;
        await call('POST /job/result', (a) => a.request('POST', '/job/result', {
          token: miner.auth_key,
          body: { job_id: job.body.job_id, miner_id: miner.miner_id, success: true, output: 'ok', tokens_generated: 1, lease_token: job.body.lease_token },
        }));
      }
    }
    const load = Promise.all([businessLoop(), businessLoop(), minerLoop()]);
    await sleep(300);

    let terminated = 0;
    const killedNames = new Set<string>();
    await withClient(database.url, async (db) => {
      for (let round = 0; round < terminateRounds; round++) {
        // The query pool (mia-api), the LISTEN connection (mia-api-listen) and the maintenance worker (mia-worker).
        const res = await db.query<{ application_name: string; ok: boolean }>(`
          SELECT application_name, pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE datname = current_database() AND (application_name LIKE 'mia-api%' OR application_name LIKE 'mia-worker%')`);
        for (const row of res.rows.filter((r) => r.ok)) {
          terminated += 1;
          killedNames.add(row.application_name);
        }
        await sleep(terminateEveryMs);
      }
    });
    injected(`pg_terminate_backend of every API connection (${[...killedNames].sort().join(', ')}), ${terminateRounds} rounds ${terminateEveryMs} ms apart: ${terminated} connections killed, under load from 2 business loops and 1 miner loop`);

    const health = await until('GET /health 200 with the LISTEN connection and the worker back', async () => {
      const res = await http.request('GET', '/health');
      return res.status === 200 && res.body.listener === 'connected' && res.body.worker === 'running' ? res.body : undefined;
    }, 25_000, 100);
    assert.equal(health.database, 'ok');
    histogram = after;
    await sleep(300);
    running = false;
    await load;

    const show = (h: Map<number, number>) => JSON.stringify(Object.fromEntries([...h].sort(([a], [b]) => a - b)));
    assert.deepEqual(unexpected, [], 'no 5xx other than 503 in our error shape');
    assert.ok((during.get(503) ?? 0) > 0, `the injection was felt: some request saw 503 (${show(during)})`);
    checked(`while connections died: statuses ${show(during)} — no 500, every 503 in our error shape`);
    assert.ok([...after.keys()].every((s) => s < 500), `after recovery no request fails: ${show(after)}`);
    assert.equal(api.child.exitCode, null);
    assert.equal(api.child.pid, pid);
    assert.doesNotMatch(api.output(), /"msg":"unhandled error"/, 'the API logged no unhandled error');
    checked(`recovered without a restart (same process ${pid}): /health 200, listener connected, worker running; afterwards statuses ${show(after)}; no unhandled error logged`);

    await emptyQueue(database.url);
    const parked = http.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=15`, { token: miner.auth_key });
    await until('the miner parked', async () => {
      const metrics = await http.request('GET', '/metrics');
      return metrics.body.parked_long_polls.job_next === 1 ? true : undefined;
    }, 10_000, 25);
    const chat = await http.request('POST', '/chat', { token: business.api_key, body: { message: 'wake up', wait: 0 } });
    assert.equal(chat.status, 202);
    const woken = await parked;
    assert.equal(woken.status, 200, 'the parked miner got the job (fallback poll is off: NOTIFY woke it)');
    assert.equal(woken.body.job_id, chat.body.job_id);
    checked('after the reconnect a parked miner is woken through LISTEN/NOTIFY by a new chat');
  });
});
