// Issue 21's acceptance, end to end with the real supervisor: a customer's message with
// an e-mail, a phone number, a Luhn-valid card and an IBAN goes through `mia-miner` to the
// llama-server double, whose request log shows what reached the GPU: placeholders only.
// Neither the miner's own log nor any column a miner is handed holds a value.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, submitChat, type TestBusiness } from '../support/factories.ts';
import { eventually, fakeLlamaServer, fakeModel, MinerProcess, tempDir } from '../miner/helpers.ts';

const values = ['jana.novak@example.org', '+44 20 7946 0958', '4111 1111 1111 1111', 'GB82 WEST 1234 5698 7654 32'];
const message = `Hi, I'm Jana (${values[0]}, phone ${values[1]}). Please refund card ${values[2]} or pay to ${values[3]}.`;

describe('personal data through the real miner', function () {
  this.timeout(60_000);
  let api: TestApi;
  let business: TestBusiness;
  let miner: MinerProcess;
  const state = tempDir();
  const requestLog = path.join(state.path, 'llama-requests.jsonl');

  before(async () => {
    api = await startTestApi();
    business = await createBusiness(api);
    miner = new MinerProcess(
      ['run', '--backend-url', api.url, '--name', 'pii-rig', '--llama-server', fakeLlamaServer, '--model', fakeModel,
        '--state-dir', state.path, '--slots', '1', '--ctx-per-slot', '2048', '--gpu-layers', '0', '--poll-wait', '10', '--stop-grace', '1'],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi', FAKE_LLAMA_REQUEST_LOG: requestLog },
    );
    await miner.waitFor(/status idle/);
  });

  after(async () => {
    await miner?.kill();
    await api?.close();
    state.remove();
  });

  it('llama-server gets placeholders only; the job completes; no miner-visible column or log holds a value', async () => {
    const chat = await submitChat(api, business, { message, session_id: 'jana-1', wait: 20 });
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.body.status, 'completed');
    const result = await api.request('GET', `/job/${chat.body.job_id}/result`, { token: business.api_key });
    assert.deepEqual(result.body.redacted, { card: 1, email: 1, iban: 1, phone: 1 });

    const sent = readFileSync(requestLog, 'utf8');
    for (const placeholder of ['[EMAIL_1]', '[PHONE_1]', '[CARD_1]', '[IBAN_1]']) assert.ok(sent.includes(placeholder), `${placeholder} reached llama-server`);
    const digits = (text: string) => text.replace(/\D/g, '');
    for (const value of values) {
      assert.ok(!sent.includes(value), `llama-server never saw ${value}`);
      if (/\d{8}/.test(digits(value))) assert.ok(!digits(sent).includes(digits(value)), `nor the digits of ${value}`);
    }
    // The columns a claim hands out, and everything the miner wrote (at debug level).
    const row = await withClient(api.databaseUrl, async (c) => (await c.query<{ seen: string }>(
      'SELECT concat_ws(\' \', messages::text, prompt, context, session_id) AS seen FROM mia.jobs WHERE id = $1', [chat.body.job_id])).rows[0]!);
    await eventually(() => /job \S+ (completed|done)|tok\/s/.test(miner.output), 10_000, 'the miner logged the job');
    for (const value of values) {
      assert.ok(!row.seen.includes(value), `the job row a miner is handed holds ${value}`);
      assert.ok(!miner.output.includes(value), `the miner's log holds ${value}`);
    }
  });
});
