import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat } from '../support/factories.ts';

describe('authentication and authorisation', () => {
  const api = useTestApi();

  const id = randomUUID();
  const protectedRoutes: [string, string, unknown?][] = [
    ['POST', '/businesses', { name: 'x' }],
    ['GET', `/businesses/${id}`],
    ['PATCH', `/businesses/${id}`, { name: 'y' }],
    ['POST', `/businesses/${id}/rotate_key`],
    ['POST', '/chat', { message: 'hi' }],
    ['GET', `/job/${id}/result`],
    ['DELETE', `/job/${id}`],
    ['GET', `/job/next?miner_id=${id}`],
    ['GET', `/jobs/next?miner_id=${id}`],
    ['POST', '/job/result', { job_id: id, miner_id: id, success: true, output: 'x', tokens_generated: 1 }],
    ['POST', '/jobs/results', { miner_id: id, results: [{ job_id: id, success: false }] }],
    ['POST', `/miner/${id}/status`, { status: 'idle' }],
    ['GET', '/miners'],
  ];

  for (const [method, path, body] of protectedRoutes) {
    it(`refuses ${method} ${path.split('?')[0]} without a key, with a wrong key and with a malformed header (401)`, async () => {
      const variants: Record<string, string>[] = [{}, { authorization: 'Bearer mia_bk_not-a-real-key' }, { authorization: 'Basic abc' }];
      for (const headers of variants) {
        const res = await api.request(method, path, { body, headers });
        assert.equal(res.status, 401, `${JSON.stringify(headers)}: ${res.text}`);
        assert.equal(res.body.error.code, 'unauthorized');
      }
    });
  }

  it('refuses a key of the wrong kind: a miner key cannot create businesses or chat, a business key cannot claim', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    assert.equal((await api.request('POST', '/businesses', { token: miner.auth_key, body: { name: 'x' } })).status, 401);
    assert.equal((await api.request('POST', '/businesses', { token: business.api_key, body: { name: 'x' } })).status, 401);
    assert.equal((await api.request('POST', '/chat', { token: miner.auth_key, body: { message: 'x' } })).status, 401);
    assert.equal((await claimJob(api, { ...miner, auth_key: business.api_key })).status, 401);
  });

  it('forbids a miner to claim as another miner or report another miner status (403)', async () => {
    const a = await registerMiner(api);
    const b = await registerMiner(api);
    const res = await api.request('GET', `/job/next?miner_id=${b.miner_id}`, { token: a.auth_key });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'forbidden');
    const status = await api.request('POST', `/miner/${b.miner_id}/status`, { token: a.auth_key, body: { status: 'offline' } });
    assert.equal(status.status, 403);
  });

  it("forbids a miner to complete another miner's job, and changes nothing (403)", async () => {
    const business = await createBusiness(api);
    const holder = await registerMiner(api);
    const thief = await registerMiner(api);
    await submitChat(api, business);
    const claimed = await claimJob(api, holder);
    const stolen = await postResult(api, thief, claimed.body, { output: 'stolen' });
    assert.equal(stolen.status, 403, stolen.text);
    // Claiming in thief's name with thief's key but naming the holder is refused earlier.
    const impersonated = await api.request('POST', '/job/result', {
      token: thief.auth_key,
      body: { job_id: claimed.body.job_id, miner_id: holder.miner_id, lease_token: claimed.body.lease_token, success: true, output: 'x', tokens_generated: 1 },
    });
    assert.equal(impersonated.status, 403);
    const job = await api.request('GET', `/job/${claimed.body.job_id}/result`, { token: business.api_key });
    assert.equal(job.body.status, 'running');
    assert.equal((await postResult(api, holder, claimed.body, { output: 'real' })).status, 200);
  });

  it('refuses the result of a lost lease with 409 and changes nothing', async () => {
    const business = await createBusiness(api);
    const first = await registerMiner(api);
    const second = await registerMiner(api);
    const chat = await submitChat(api, business);
    const lost = await claimJob(api, first);
    // The lease expires and the job is requeued (what the reaper does), then another miner takes it.
    await withClient(api.databaseUrl, (client) =>
      client.query(
        `UPDATE mia.jobs SET status = 'queued', miner_id = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = $1`,
        [chat.body.job_id],
      ),
    );
    const current = await claimJob(api, second);
    assert.equal(current.body.job_id, chat.body.job_id);

    const late = await postResult(api, first, lost.body, { output: 'too late' });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'lease_lost');
    const job = await api.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key });
    assert.equal(job.status, 202);
    assert.equal(job.body.status, 'running');
    const counters = await api.request('GET', '/miners', { token: api.adminToken });
    const row = counters.body.miners.find((m: { miner_id: string }) => m.miner_id === first.miner_id);
    assert.equal(row.job_count, 0);

    // The current holder's stale-token attempt (a token from before) is refused too.
    const wrongToken = await postResult(api, second, { ...current.body, lease_token: lost.body.lease_token });
    assert.equal(wrongToken.status, 409);
    assert.equal((await postResult(api, second, current.body, { output: 'on time' })).status, 200);
  });

  it("hides another business's jobs and business record (404)", async () => {
    const a = await createBusiness(api);
    const b = await createBusiness(api);
    const chat = await submitChat(api, a);
    assert.equal((await api.request('GET', `/job/${chat.body.job_id}/result`, { token: b.api_key })).status, 404);
    assert.equal((await api.request('DELETE', `/job/${chat.body.job_id}`, { token: b.api_key })).status, 404);
    assert.equal((await api.request('GET', `/businesses/${a.id}`, { token: b.api_key })).status, 404);
    assert.equal((await api.request('GET', `/businesses/${a.id}`, { token: a.api_key })).status, 200);
    const foreign = await api.request('POST', '/chat', { token: b.api_key, body: { message: 'x', business_id: a.id } });
    assert.equal(foreign.status, 403);
  });

  it('keeps the reason a miner gives for going offline, shows it in GET /miners, and clears it on the next report', async () => {
    const miner = await registerMiner(api);
    const offline = await api.request('POST', `/miner/${miner.miner_id}/status`, {
      token: miner.auth_key,
      body: { status: 'offline', reason: 'llama-server crash loop: exited with code 1' },
    });
    assert.equal(offline.status, 200);
    const find = async () =>
      (await api.request('GET', '/miners', { token: miner.auth_key })).body.miners.find((m: { miner_id: string }) => m.miner_id === miner.miner_id);
    assert.equal((await find()).status_reason, 'llama-server crash loop: exited with code 1');
    await api.request('POST', `/miner/${miner.miner_id}/status`, { token: miner.auth_key, body: { status: 'idle' } });
    assert.equal((await find()).status_reason, null);
  });

  it('refuses to re-register a taken miner name without its key (409), and accepts it with the key', async () => {
    const miner = await registerMiner(api, { name: 'rig-7' });
    const hijack = await api.request('POST', '/register_miner', { body: { name: 'rig-7' } });
    assert.equal(hijack.status, 409);
    assert.equal(hijack.body.error.code, 'name_taken');
    const other = await registerMiner(api);
    const wrongKey = await api.request('POST', '/register_miner', { token: other.auth_key, body: { name: 'rig-7' } });
    assert.equal(wrongKey.status, 409);
    const again = await api.request('POST', '/register_miner', { token: miner.auth_key, body: { name: 'rig-7', gpu_name: 'RTX 4090', slots: 2 } });
    assert.equal(again.status, 200);
    assert.equal(again.body.miner_id, miner.miner_id);
    assert.equal(again.body.auth_key, undefined, 'no new key on re-registration');
    const bogus = await api.request('POST', '/register_miner', { token: 'mia_mk_bogus', body: { name: 'rig-8' } });
    assert.equal(bogus.status, 401);
  });

  it('stores only hashes of keys, and shows miner IP addresses to the operator only', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { ip_address: '203.0.113.7' });
    const stored = await withClient(api.databaseUrl, async (client) => {
      const text = JSON.stringify((await client.query('SELECT * FROM mia.businesses')).rows) + JSON.stringify((await client.query('SELECT * FROM mia.miners')).rows);
      return text;
    });
    assert.equal(stored.includes(business.api_key), false);
    assert.equal(stored.includes(miner.auth_key), false);
    const asOperator = await api.request('GET', '/miners', { token: api.adminToken });
    assert.equal(asOperator.body.miners.find((m: { miner_id: string }) => m.miner_id === miner.miner_id).ip_address, '203.0.113.7');
    const asMiner = await api.request('GET', '/miners', { token: miner.auth_key });
    assert.equal('ip_address' in asMiner.body.miners[0], false);
  });
});

describe('malformed requests', () => {
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a missing message', { wait: 0 }, /message/],
    ['an empty message', { message: '', wait: 0 }, /message/],
    ['a numeric message', { message: 42 }, /message/],
    ['wait above 60', { message: 'x', wait: 61 }, /wait/],
    ['negative max_tokens', { message: 'x', max_tokens: -1 }, /max_tokens/],
    ['temperature above 2', { message: 'x', temperature: 3 }, /temperature/],
    ['an unknown field', { message: 'x', mesage: 'typo' }, /mesage/],
    ['a session id with spaces', { message: 'x', session_id: 'a b' }, /session_id/],
    ['a callback_url that is not a URL', { message: 'x', callback_url: 'not a url' }, /callback_url/],
  ];
  for (const [what, body, field] of cases) {
    it(`answers POST /chat with ${what} with 400 naming the field`, async () => {
      const business = await createBusiness(api);
      const res = await api.request('POST', '/chat', { token: business.api_key, body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.code, 'bad_request');
      assert.match(JSON.stringify(res.body.error), field);
    });
  }

  it('answers invalid JSON with 400 invalid_json and a non-JSON content type with 415', async () => {
    const business = await createBusiness(api);
    const bad = await api.request('POST', '/chat', { token: business.api_key, rawBody: '{"message":' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_json');
    const text = await api.request('POST', '/chat', { token: business.api_key, rawBody: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 415, text.text);
  });

  it('answers a result without output, a malformed uuid and an unknown route with 4xx naming the problem', async () => {
    const miner = await registerMiner(api);
    const noOutput = await api.request('POST', '/job/result', { token: miner.auth_key, body: { job_id: randomUUID(), miner_id: miner.miner_id, lease_token: randomUUID(), success: true, tokens_generated: 3 } });
    assert.equal(noOutput.status, 400);
    assert.match(noOutput.body.error.message, /output/);
    const badId = await api.request('GET', `/job/next?miner_id=not-a-uuid`, { token: miner.auth_key });
    assert.equal(badId.status, 400);
    assert.match(badId.body.error.message, /miner_id/);
    const unknown = await api.request('GET', '/nope', {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
    const method = await api.request('PUT', '/chat', { body: {} });
    assert.equal(method.status, 405);
  });
});
