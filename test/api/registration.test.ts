// Who may register a miner (MIA_MINER_REGISTRATION): anonymous and unlimited
// registration let one person create 2,000 miners in 1.9 s.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { fakeLlamaServer, fakeModel, MinerProcess, tempDir } from '../miner/helpers.ts';

const name = () => `reg-${randomUUID().slice(0, 8)}`;
const enrolmentToken = 'enrol-0123456789abcdef';

describe('miner registration modes', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  const apis: TestApi[] = [];
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    for (const api of apis) await api.close();
    await database?.drop();
  });
  async function api(env: Record<string, string>): Promise<TestApi> {
    const started = await startTestApi({ database, env });
    apis.push(started);
    return started;
  }
  const register = (on: TestApi, body: Record<string, unknown>, token?: string) =>
    on.request('POST', '/register_miner', { body: { name: name(), ...body }, token });

  it('open: anyone, at most MIA_MINER_REGISTRATION_PER_HOUR per IP; re-registering is not counted', async () => {
    const open = await api({ MIA_MINER_REGISTRATION: 'open', MIA_MINER_REGISTRATION_PER_HOUR: '3' });
    const firstName = name();
    const first = await open.request('POST', '/register_miner', { body: { name: firstName } });
    assert.equal(first.status, 201, first.text);
    assert.equal((await register(open, {})).status, 201);
    assert.equal((await register(open, {})).status, 201);
    const fourth = await register(open, {});
    assert.equal(fourth.status, 429, fourth.text);
    assert.equal(fourth.body.error.code, 'rate_limited');
    assert.ok(Number(fourth.headers.get('retry-after')) > 0);
    // The first miner refreshing its specs with its own key is not a new registration.
    const refresh = await open.request('POST', '/register_miner', { body: { name: firstName, slots: 2 }, token: first.body.auth_key });
    assert.equal(refresh.status, 200, refresh.text);
  });

  it('token: only with the enrolment token; a wrong or missing one is 403 naming it', async () => {
    const byToken = await api({ MIA_MINER_REGISTRATION: 'token', MIA_MINER_ENROLMENT_TOKEN: enrolmentToken });
    const missing = await register(byToken, {});
    assert.equal(missing.status, 403, missing.text);
    assert.match(missing.body.error.message, /enrolment_token/);
    const wrong = await register(byToken, { enrolment_token: 'not-the-token-at-all' });
    assert.equal(wrong.status, 403, wrong.text);
    const minerName = name();
    const ok = await byToken.request('POST', '/register_miner', { body: { name: minerName, enrolment_token: enrolmentToken } });
    assert.equal(ok.status, 201, ok.text);
    assert.doesNotMatch(ok.text, new RegExp(enrolmentToken), 'the token is never echoed');
    // Re-registering with its own key needs no token.
    const refresh = await byToken.request('POST', '/register_miner', { body: { name: minerName, slots: 2 }, token: ok.body.auth_key });
    assert.equal(refresh.status, 200, refresh.text);
  });

  it('open: a forged X-Forwarded-For from loopback does not reset the per-IP limit; a proxy named in MIA_TRUST_PROXY may set it', async () => {
    const open = await api({ MIA_MINER_REGISTRATION: 'open', MIA_MINER_REGISTRATION_PER_HOUR: '3' });
    const forged = (i: number) => ({ 'x-forwarded-for': `198.51.100.${i}` });
    const statuses: number[] = [];
    for (let i = 1; i <= 6; i++) {
      statuses.push((await open.request('POST', '/register_miner', { body: { name: name() }, headers: forged(i) })).status);
    }
    assert.deepEqual(statuses, [201, 201, 201, 429, 429, 429], 'six "different clients" are one peer');
    const [row] = await withClient(database.url, async (c) =>
      (await c.query<{ registered_from: string }>(`SELECT registered_from FROM mia.miners ORDER BY created_at DESC LIMIT 1`)).rows);
    assert.doesNotMatch(row!.registered_from, /198\.51\.100/, 'the peer is recorded, not the header');

    // Behind a proxy the operator names, each forwarded client has its own allowance.
    const proxied = await api({ MIA_MINER_REGISTRATION: 'open', MIA_MINER_REGISTRATION_PER_HOUR: '1', MIA_TRUST_PROXY: 'loopback' });
    assert.equal((await proxied.request('POST', '/register_miner', { body: { name: name() }, headers: forged(1) })).status, 201);
    assert.equal((await proxied.request('POST', '/register_miner', { body: { name: name() }, headers: forged(2) })).status, 201);
    assert.equal((await proxied.request('POST', '/register_miner', { body: { name: name() }, headers: forged(2) })).status, 429);
  });

  it('token: wrong enrolment tokens are limited per IP (429 with Retry-After), and past the limit even the right one waits', async () => {
    const byToken = await api({ MIA_MINER_REGISTRATION: 'token', MIA_MINER_ENROLMENT_TOKEN: enrolmentToken, MIA_ENROLMENT_FAILURES_PER_MINUTE: '10' });
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 15; i++) {
      last = await register(byToken, { enrolment_token: `guess-${i}-0123456789` });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(403), ...Array<number>(5).fill(429)]);
    assert.equal(last!.body.error.code, 'rate_limited');
    assert.match(last!.body.error.message, /wrong enrolment tokens/);
    assert.ok(Number(last!.headers.get('retry-after')) >= 1);
    // A guesser past the limit learns nothing: the right token is not even compared.
    assert.equal((await register(byToken, { enrolment_token: enrolmentToken })).status, 429);
  });

  it('closed: only the operator registers miners', async () => {
    const closed = await api({ MIA_MINER_REGISTRATION: 'closed' });
    const anonymous = await register(closed, { enrolment_token: enrolmentToken });
    assert.equal(anonymous.status, 403, anonymous.text);
    assert.match(anonymous.body.error.message, /registration is closed/);
    const byOperator = await register(closed, {}, closed.adminToken);
    assert.equal(byOperator.status, 201, byOperator.text);
    assert.ok(byOperator.body.auth_key);
  });
});

describe('mia-miner against token registration', function () {
  this.timeout(30_000);
  let api: TestApi;
  before(async () => {
    api = await startTestApi({ env: { MIA_MINER_REGISTRATION: 'token', MIA_MINER_ENROLMENT_TOKEN: enrolmentToken } });
  });
  after(() => api?.close());

  const run = async (extra: string[], env: Record<string, string> = {}) => {
    const state = tempDir();
    const miner = new MinerProcess(
      ['run', '--backend-url', api.url, '--name', name(), '--llama-server', fakeLlamaServer, '--model', fakeModel,
        '--state-dir', state.path, '--gpu-layers', '0', ...extra],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi', ...env },
    );
    return { miner, state };
  };

  it('without the token stops at once with one line saying what to pass', async () => {
    const { miner, state } = await run([]);
    try {
      const { code } = await miner.waitExit(20_000);
      assert.equal(code, 1, miner.output);
      assert.match(miner.output, /registration refused: .*403 miner registration needs the enrolment token.*--enrolment-token \(MIA_ENROLMENT_TOKEN\)/);
    } finally {
      await miner.kill();
      state.remove();
    }
  });

  it('with MIA_ENROLMENT_TOKEN registers, and never logs the token', async () => {
    const { miner, state } = await run([], { MIA_ENROLMENT_TOKEN: enrolmentToken });
    try {
      await miner.waitFor(/registered as a new miner/, 20_000);
      assert.doesNotMatch(miner.output, new RegExp(enrolmentToken));
    } finally {
      await miner.kill();
      state.remove();
    }
  });
});
