// The database goes away under a running API (a proxy in front of Postgres is cut).
// Keys that were valid must not turn into 401s: a business would think its key was
// revoked, and a miner told 401 gives up its identity. Only "no such key" is a 401.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { cuttableProxy, type CuttableProxy } from '../support/cuttableProxy.ts';
import { createBusiness, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { BackendClient, BackendError } from '../../miner/backend/backendClient.ts';
import { ensureIdentity, writeIdentity } from '../../miner/backend/identity.ts';
import { tempDir } from '../miner/helpers.ts';

describe('valid keys while the database is unreachable', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let proxy: CuttableProxy;
  let api: TestApi;
  let business: TestBusiness;
  let miner: TestMiner;

  before(async () => {
    database = await createTestDatabase();
    proxy = await cuttableProxy(database.url);
    // Cache off: what every process sees once its 5 s key cache has run out.
    api = await startTestApi({
      database: { ...database, url: proxy.url },
      env: { MIA_AUTH_CACHE_SECONDS: '0', MIA_WORKER: 'off' },
    });
    business = await createBusiness(api);
    miner = await registerMiner(api);
  });

  after(async () => {
    await proxy.restore().catch(() => {});
    await api?.close();
    await proxy?.close();
    await database?.drop();
  });

  afterEach(async () => {
    await proxy.restore().catch(() => {}); // already listening is fine
  });

  it('answers 503 database_unavailable with Retry-After to a business and a miner, and 200 again after', async () => {
    await proxy.cut();
    const chat = await submitChat(api, business);
    assert.equal(chat.status, 503, chat.text);
    assert.equal(chat.body.error.code, 'database_unavailable');
    assert.ok(chat.headers.get('retry-after'));
    const claim = await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=0`, { token: miner.auth_key });
    assert.equal(claim.status, 503, claim.text);
    assert.equal(claim.body.error.code, 'database_unavailable');

    await proxy.restore();
    const again = await submitChat(api, business);
    assert.equal(again.status, 202, again.text);
  });

  it('still answers 401 to a key that does not exist, once the database can say so', async () => {
    const res = await submitChat(api, { id: 'x', name: 'x', api_key: 'mia_bk_doesnotexist000000000000000000000000000' });
    assert.equal(res.status, 401, res.text);
    assert.equal(res.body.error.code, 'unauthorized');
  });

  it('a miner whose backend is unreachable keeps its identity file and retries', async () => {
    const state = tempDir();
    try {
      // A stored identity under another spelling of the URL: the case in which a
      // refused key (401) would make the miner move its file aside and re-register.
      const other = api.url.replace('127.0.0.1', 'localhost');
      await writeIdentity(state.path, {
        miner_id: miner.miner_id,
        auth_key: miner.auth_key,
        name: miner.name,
        backend_url: api.url,
        registered_at: new Date().toISOString(),
      });
      const before = readFileSync(path.join(state.path, 'miner.json'), 'utf8');
      await proxy.cut();
      const client = new BackendClient({ baseUrl: other });
      const attempt = ensureIdentity(client, {
        stateDir: state.path,
        backendUrl: other,
        registration: { name: miner.name, slots: 1 },
      });
      await assert.rejects(attempt, (error: unknown) => error instanceof BackendError && error.status === 503 && error.retryable);
      assert.deepEqual(readdirSync(state.path), ['miner.json']);
      assert.equal(readFileSync(path.join(state.path, 'miner.json'), 'utf8'), before);
    } finally {
      state.remove();
    }
  });
});
