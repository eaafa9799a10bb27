// A volunteer reads their earnings from the miner itself: the periodic summary carries
// a credits line, and `mia-miner status` prints the backend's report. Both come from
// the backend's ledger (GET /miners/{id}/credits), never from local counting.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findFreePort } from '../../miner/lib/freePort.ts';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { createBusiness, submitChat } from '../support/factories.ts';
import { eventually, fakeLlamaServer, fakeModel, MinerProcess, tempDir } from './helpers.ts';

const amount = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

describe('mia-miner shows its credits', function () {
  this.timeout(60_000);
  let api: TestApi;
  const state = tempDir();
  const miners: MinerProcess[] = [];

  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    for (const miner of miners) await miner.kill();
    await api?.close();
    state.remove();
  });

  async function status(args: string[]): Promise<{ code: number | null; output: string }> {
    const proc = new MinerProcess(['status', ...args]);
    miners.push(proc);
    const { code } = await proc.waitExit();
    return { code, output: proc.output };
  }

  it('says there is no identity yet, and how to get one', async () => {
    const empty = tempDir();
    try {
      const { code, output } = await status(['--state-dir', empty.path]);
      assert.equal(code, 1, output);
      assert.match(output, /no identity in .*miner\.json; `mia-miner run` registers one/);
    } finally {
      empty.remove();
    }
  });

  it('prints the ledger\'s credits in the summary and in `mia-miner status`', async () => {
    const miner = new MinerProcess(
      ['run', '--backend-url', api.url, '--name', 'credited-miner', '--llama-server', fakeLlamaServer, '--model', fakeModel,
        '--state-dir', state.path, '--slots', '1', '--gpu-layers', '0', '--poll-wait', '1', '--summary-interval', '1'],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi' },
    );
    miners.push(miner);
    await miner.waitFor(/llama-server ready/);
    const business = await createBusiness(api);
    const chat = await submitChat(api, business, { message: 'Where is my order?', wait: 20 });
    assert.equal(chat.status, 200, chat.text);

    const { miner_id, auth_key } = JSON.parse(readFileSync(path.join(state.path, 'miner.json'), 'utf8'));
    const ledger = await eventually(async () => {
      const res = await api.request('GET', `/miners/${miner_id}/credits`, { token: auth_key });
      return res.body.totals.pending > 0 ? res.body : undefined;
    }, 10_000, () => 'credits for the completed job');
    // A new miner's credits are in escrow: pending, not yet available.
    assert.equal(ledger.state, 'pending');
    const pending = amount(ledger.totals.pending);
    await miner.waitFor(new RegExp(`credits: ${pending} pending, 0 frozen, 0 available; ${pending} since .*in escrow`));

    miner.child.kill('SIGTERM');
    assert.equal((await miner.waitExit()).code, 0, miner.output);

    // No --backend-url: status asks the backend the identity was registered with.
    const { code, output } = await status(['--state-dir', state.path]);
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`miner: +credited-miner \\(${miner_id}\\)`));
    assert.match(output, new RegExp(`totals: +${pending} pending, 0 frozen, 0 available`));
    const jobRow = ledger.days.find((d: { kind: string }) => d.kind === 'job');
    assert.ok(jobRow, JSON.stringify(ledger.days));
    assert.match(output, new RegExp(`${jobRow.day} +job +${jobRow.model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +1 +`));
    assert.doesNotMatch(output, new RegExp(auth_key), 'the key is never printed');
  });

  it('fails with one line when the backend refuses the key, or cannot be reached', async () => {
    const forged = tempDir();
    try {
      const identity = JSON.parse(readFileSync(path.join(state.path, 'miner.json'), 'utf8'));
      writeFileSync(path.join(forged.path, 'miner.json'), JSON.stringify({ ...identity, auth_key: 'mia_mk_not-the-key' }), { mode: 0o600 });
      const refused = await status(['--state-dir', forged.path]);
      assert.equal(refused.code, 1, refused.output);
      assert.match(refused.output, /credits unavailable: the backend does not accept this identity's key/);
      const closedPort = await findFreePort();
      const unreachable = await status(['--state-dir', state.path, '--backend-url', `http://127.0.0.1:${closedPort}`]);
      assert.equal(unreachable.code, 1, unreachable.output);
      assert.match(unreachable.output, /credits unavailable: GET \/miners\/.*\/credits: ECONNREFUSED/);
    } finally {
      forged.remove();
    }
  });
});
