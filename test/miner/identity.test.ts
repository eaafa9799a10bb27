// The miner's identity file against a real API: what happens when
// --backend-url changes between runs.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { BackendClient } from '../../miner/backend/backendClient.ts';
import {
  ensureIdentity,
  IdentityError,
  normalizeBackendUrl,
  readIdentity,
} from '../../miner/backend/identity.ts';
import { tempDir } from './helpers.ts';

describe('miner identity when --backend-url changes', () => {
  const api = useTestApi();
  const other = useTestApi();
  const dirs: { remove: () => void }[] = [];
  after(() => {
    for (const dir of dirs) dir.remove();
  });

  async function runWith(stateDir: string, backendUrl: string, name: string) {
    const client = new BackendClient({ baseUrl: backendUrl });
    return ensureIdentity(client, { stateDir, backendUrl, registration: { name, slots: 1 } });
  }
  function newStateDir(): string {
    const dir = tempDir();
    dirs.push(dir);
    return dir.path;
  }
  const backups = (stateDir: string) => readdirSync(stateDir).filter((f) => f.endsWith('.bak'));
  const minerCount = async (target: TestApi, name: string) =>
    (
      (await target.request('GET', '/miners', { token: target.adminToken })).body.miners as {
        name: string;
      }[]
    ).filter((m) => m.name === name).length;

  it('keeps its identity when the URL differs only in form (trailing slash, host alias)', async () => {
    const stateDir = newStateDir();
    const name = 'rig-form';
    const first = await runWith(stateDir, api.url, name);
    assert.equal(first.created, true);

    const port = new URL(api.url).port;
    for (const spelling of [`${api.url}/`, `http://localhost:${port}`, `http://LOCALHOST:${port}//`]) {
      const again = await runWith(stateDir, spelling, name);
      assert.equal(again.created, false, spelling);
      assert.equal(again.identity.miner_id, first.identity.miner_id, spelling);
      assert.equal((await readIdentity(stateDir))?.backend_url, spelling, 'the file takes the new URL');
    }
    assert.deepEqual(backups(stateDir), [], 'nothing moved aside');
    assert.equal(await minerCount(api, name), 1, 'no second miner registered');
  });

  it('registers anew at another backend, keeping the old identity file aside', async () => {
    const stateDir = newStateDir();
    const name = 'rig-move';
    const first = await runWith(stateDir, api.url, name);
    const moved = await runWith(stateDir, other.url, name);
    assert.equal(moved.created, true);
    assert.notEqual(moved.identity.miner_id, first.identity.miner_id);
    assert.equal((await readIdentity(stateDir))?.backend_url, other.url);
    assert.equal(backups(stateDir).length, 1, 'the first backend’s key is kept in a .bak file');
  });

  it('stops with a clear message when the name is taken at the other backend', async () => {
    const stateDir = newStateDir();
    const name = 'rig-taken';
    await runWith(stateDir, api.url, name);
    await runWith(newStateDir(), other.url, name); // someone else's miner there
    await assert.rejects(runWith(stateDir, other.url, name), (error: unknown) => {
      assert.ok(error instanceof IdentityError);
      assert.match(error.message, /belongs to another miner at /);
      return true;
    });
  });

  it('still refuses to re-register silently when the same backend no longer knows the key', async () => {
    const stateDir = newStateDir();
    const name = 'rig-deleted';
    const first = await runWith(stateDir, api.url, name);
    // The operator deleted the miner: its key is gone.
    await withClient(api.databaseUrl, (client) =>
      client.query('DELETE FROM mia.miners WHERE id = $1', [first.identity.miner_id]),
    );
    await assert.rejects(runWith(stateDir, `${api.url}/`, name), /no longer accepts the key/);
    assert.deepEqual(backups(stateDir), []);
  });

  it('spells a backend URL one way', () => {
    assert.equal(normalizeBackendUrl('HTTP://Example.COM:80/'), 'http://example.com');
    assert.equal(normalizeBackendUrl('https://example.com:443/mia//'), 'https://example.com/mia');
    assert.equal(normalizeBackendUrl('http://example.com:8000'), 'http://example.com:8000');
  });
});
