import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startTestApi, testAdminToken, type TestApi } from '../support/apiServer.ts';
import { startApiProcess, type ApiProcess } from '../support/apiProcess.ts';
import { emptyQueue } from '../support/database.ts';
import { request } from '../support/http.ts';
import { createBusiness, registerMiner } from '../support/factories.ts';

// The issue sets a deliberately generous bound (100 ms); the real figure is measured by `npm run bench`.
const generousBoundMs = 100;

describe('waking long-polling miners', () => {
  let api: TestApi;
  let second: ApiProcess;
  before(async () => {
    api = await startTestApi();
    second = await startApiProcess(api.databaseUrl);
  });
  after(async () => {
    await second?.stop();
    await api.close();
  });
  beforeEach(async () => {
    await emptyQueue(api.databaseUrl);
  });

  async function timeToMiner(chatBaseUrl: string): Promise<number> {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 2 });
    // Warm up: the validator compiles each route's schemas on its first request.
    await request(chatBaseUrl, 'POST', '/chat', { token: business.api_key, body: { message: 'warm-up', wait: 0 } });
    await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=0`, { token: miner.auth_key });
    const poll = api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=10`, { token: miner.auth_key });
    // Let the poll reach the server and park.
    for (let i = 0; i < 100 && api.server.ctx.dispatcher.parked === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(api.server.ctx.dispatcher.parked, 1, 'the miner is parked');
    assert.equal(api.server.ctx.db.state().acquiredConnections, 0, 'a parked long-poll holds no pooled connection');
    const start = performance.now();
    const chat = await request(chatBaseUrl, 'POST', '/chat', { token: business.api_key, body: { message: 'ping', wait: 0 } });
    const claimed = await poll;
    const elapsed = performance.now() - start;
    assert.equal(claimed.status, 200);
    assert.equal(claimed.body.job_id, chat.body.job_id);
    return elapsed;
  }

  it('hands a chat to a parked miner within the bound, through NOTIFY, holding no connection while parked', async () => {
    const elapsed = await timeToMiner(api.url);
    assert.ok(elapsed < generousBoundMs, `took ${elapsed.toFixed(1)} ms`);
  });

  it('wakes a miner parked on one API process for a chat sent to another process', async () => {
    const elapsed = await timeToMiner(second.url);
    assert.ok(elapsed < generousBoundMs, `took ${elapsed.toFixed(1)} ms`);
  });

  it('answers a waiting chat on one process when the result is posted to another', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = request(second.url, 'POST', '/chat', { token: business.api_key, body: { message: 'cross', wait: 20 } });
    const claimed = await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=10`, { token: miner.auth_key });
    await api.request('POST', '/job/result', {
      token: miner.auth_key,
      body: { job_id: claimed.body.job_id, miner_id: miner.miner_id, success: true, output: 'pong', tokens_generated: 1, lease_token: claimed.body.lease_token },
    });
    const answered = await chat;
    assert.equal(answered.status, 200);
    assert.equal(answered.body.response, 'pong');
  });

  it('answers 204 when nothing arrives within wait, and keeps no job claimed for a miner that hung up', async () => {
    const miner = await registerMiner(api);
    const empty = await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=1`, { token: miner.auth_key });
    assert.equal(empty.status, 204);

    const controller = new AbortController();
    const gone = fetch(`${api.url}/job/next?miner_id=${miner.miner_id}&wait=10`, {
      headers: { authorization: `Bearer ${miner.auth_key}` },
      signal: controller.signal,
    }).catch(() => 'aborted');
    for (let i = 0; i < 100 && api.server.ctx.dispatcher.parked === 0; i++) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    assert.equal(await gone, 'aborted');
    await new Promise((r) => setTimeout(r, 50));
    const business = await createBusiness(api);
    const chat = await api.request('POST', '/chat', { token: business.api_key, body: { message: 'for someone else', wait: 0 } });
    const other = await registerMiner(api);
    const claimed = await api.request('GET', `/job/next?miner_id=${other.miner_id}&wait=2`, { token: other.auth_key });
    assert.equal(claimed.status, 200, 'the job was not swallowed by the departed miner');
    assert.equal(claimed.body.job_id, chat.body.job_id);
  });

  it('serves the operator token check on the second process too', async () => {
    const res = await request(second.url, 'GET', '/miners', { token: testAdminToken });
    assert.equal(res.status, 200);
  });
});
