import assert from 'node:assert/strict';
import http from 'node:http';
import { startApiProcess, type ApiProcess } from '../support/apiProcess.ts';
import { testAdminToken } from '../support/apiServer.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { request } from '../support/http.ts';

describe('graceful shutdown of an API process', function () {
  this.timeout(40_000);
  let database: TestDatabase;
  let api: ApiProcess;

  before(async () => {
    database = await createTestDatabase();
    api = await startApiProcess(database.url, { MIA_SHUTDOWN_TIMEOUT_MS: '10000' });
  });
  after(async () => {
    await api?.stop();
    await database?.drop();
  });

  it('on SIGTERM answers a parked long-poll with 204, refuses new connections, finishes the in-flight request and exits 0', async () => {
    const business = await request(api.url, 'POST', '/businesses', { token: testAdminToken, body: { name: 'shutdown-shop' } });
    assert.equal(business.status, 201, business.text);
    const miner = await request(api.url, 'POST', '/register_miner', { body: { name: 'shutdown-miner' } });
    assert.equal(miner.status, 201, miner.text);

    const parked = request(api.url, 'GET', `/job/next?miner_id=${miner.body.miner_id}&wait=30`, { token: miner.body.auth_key });
    for (let i = 0; i < 200; i++) {
      const metrics = await request(api.url, 'GET', '/metrics');
      if (metrics.body.parked_long_polls.job_next === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }

    // An in-flight request: its headers are in (the server said 100 Continue), its body is not.
    const body = JSON.stringify({ message: 'sent while the server drains', wait: 0 });
    const url = new URL(api.url);
    const inFlight = http.request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/chat',
      headers: {
        authorization: `Bearer ${business.body.api_key}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
      },
    });
    const continued = new Promise<void>((resolve) => inFlight.once('continue', resolve));
    const answered = new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
      inFlight.once('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
      });
      inFlight.once('error', reject);
    });
    inFlight.flushHeaders();
    await continued;

    api.child.kill('SIGTERM');

    const poll = await parked;
    assert.equal(poll.status, 204, 'the parked long-poll is answered "no job" at once, not after its 30 s');
    await assert.rejects(fetch(`${api.url}/health`), 'a new connection is refused while draining');

    inFlight.end(body);
    const response = await answered;
    assert.equal(response.status, 202, response.text);
    assert.equal(response.connection, 'close', 'a draining server tells the client not to reuse the connection');
    const jobId = (JSON.parse(response.text) as { job_id: string }).job_id;

    const exit = await api.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.match(api.output(), /"msg":"stopped"/);

    await withClient(database.url, async (db) => {
      const job = await db.query('SELECT status, prompt FROM mia.jobs WHERE id = $1', [jobId]);
      assert.deepEqual(job.rows, [{ status: 'queued', prompt: 'sent while the server drains' }], 'the in-flight chat was stored');
    });
  });
});
