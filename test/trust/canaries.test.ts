// Proof of work by known answers (issue 21 item 2, README "Proof of work: canaries"):
// real mia-miner processes on the llama-server double, honest or misbehaving, answer
// canaries that a miner the operator trusts answered first.
import assert from 'node:assert/strict';
import { startTestApi, testEnv, type TestApi } from '../support/apiServer.ts';
import { loadConfig } from '../../api/config.ts';
import { createDatabasePool } from '../../api/db/pool.ts';
import { topUpCanaries } from '../../api/trust/canaries.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat } from '../support/factories.ts';
import { eventually, fakeLlamaServer, fakeModel, MinerProcess, tempDir } from '../miner/helpers.ts';

const model = 'header-only.gguf';
const verifyCount = 2;
const suspicionLimit = 3;

describe('canaries', function () {
  this.timeout(120_000);
  let api: TestApi;
  const dirs: { remove: () => void }[] = [];
  const running: MinerProcess[] = [];

  async function startMiner(name: string, env: Record<string, string> = {}): Promise<{ process: MinerProcess; id: string }> {
    const state = tempDir();
    dirs.push(state);
    const miner = new MinerProcess(
      ['run', '--backend-url', api.url, '--name', name, '--llama-server', fakeLlamaServer, '--model', fakeModel,
        '--state-dir', state.path, '--slots', '1', '--ctx-per-slot', '2048', '--gpu-layers', '0', '--poll-wait', '10',
        '--stop-grace', '1', '--restart-backoff', '0.1'],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi', ...env },
    );
    running.push(miner);
    await miner.waitFor(/status idle/);
    const list = await api.request('GET', '/miners?limit=100', { token: api.adminToken });
    const row = (list.body.miners as { miner_id: string; name: string }[]).find((m) => m.name === name);
    assert.ok(row, `miner ${name} registered`);
    return { process: miner, id: row.miner_id };
  }

  async function stopMiners(): Promise<void> {
    for (const miner of running.splice(0)) await miner.kill();
  }

  /** Submit a canary with this prompt and wait until a miner's answer is stored. */
  async function canary(promptIndex: number): Promise<string> {
    const made = await api.request('POST', '/canaries', { token: api.adminToken, body: { model, prompt_index: promptIndex } });
    assert.equal(made.status, 201, made.text);
    const jobId = made.body.job_ids[0] as string;
    await eventually(() => query(`SELECT 1 FROM mia.canary_answers WHERE job_id = $1`, [jobId]).then((r) => r.length > 0), 20_000, `canary ${jobId} answered`);
    return jobId;
  }

  async function query(text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    return (await withClient(api.databaseUrl, (c) => c.query(text, values))).rows;
  }

  async function suspicions(minerId: string): Promise<number> {
    const [row] = await query(`SELECT count(*)::int AS n FROM mia.miner_suspicions WHERE miner_id = $1 AND reason = 'canary_mismatch'`, [minerId]);
    return row!.n as number;
  }

  before(async () => {
    api = await startTestApi({
      env: {
        MIA_CANARY_VERIFY_COUNT: String(verifyCount),
        MIA_SUSPICION_LIMIT: String(suspicionLimit),
        MIA_MINER_REGISTRATION: 'open',
      },
    });
    // The operator's trusted miner answers every prompt used below: the known answers.
    const reference = await startMiner('reference');
    assert.equal((await api.request('PUT', `/miners/${reference.id}/trust`, { token: api.adminToken, body: { trusted: true } })).status, 200);
    for (const prompt of [0, 1, 2, 3]) await canary(prompt);
    await stopMiners();
    const known = await query(`SELECT count(*)::int AS n FROM mia.canary_expectations WHERE model = $1 AND source = 'trusted'`, [model]);
    assert.equal(known[0]!.n, 4);
  });

  afterEach(stopMiners);

  after(async () => {
    await stopMiners();
    await api?.close();
    for (const dir of dirs) dir.remove();
  });

  it(`verifies an honest miner for its model after ${verifyCount} canaries, and they earn and bill nothing`, async () => {
    const honest = await startMiner('honest');
    const jobs = [await canary(0), await canary(1)];
    const standing = await api.request('GET', `/miners/${honest.id}/trust`, { token: api.adminToken });
    assert.deepEqual(
      standing.body.verifications.map((v: Record<string, unknown>) => ({ model: v.model, passed: v.passed, failed: v.failed, verified: v.verified })),
      [{ model, passed: 2, failed: 0, verified: true }],
    );
    assert.equal(await suspicions(honest.id), 0);
    const [money] = await query(
      `SELECT (SELECT count(*) FROM mia.miner_credits WHERE job_id = ANY ($1::uuid[]))::int AS credits,
              (SELECT count(*) FROM mia.job_usage WHERE job_id = ANY ($1::uuid[]))::int AS usage,
              (SELECT job_count FROM mia.miners WHERE id = $2)::int AS job_count,
              (SELECT count(*) FROM mia.jobs WHERE id = ANY ($1::uuid[]) AND status = 'completed')::int AS completed`,
      [jobs, honest.id],
    );
    assert.deepEqual(money, { credits: 0, usage: 0, job_count: 0, completed: 2 });
  });

  it(`suspects a miner answering with canned text at each canary, and suspends it after ${suspicionLimit}`, async () => {
    const canned = await startMiner('canned', { FAKE_LLAMA_CANNED_TEXT: 'Thank you for contacting us. A colleague will get back to you within one business day.' });
    for (const [i, prompt] of [0, 1, 2].entries()) {
      await canary(prompt);
      assert.equal(await suspicions(canned.id), i + 1, `suspected at canary ${i + 1}`);
    }
    const [row] = await query(`SELECT suspended_at IS NOT NULL AS suspended FROM mia.miners WHERE id = $1`, [canned.id]);
    assert.equal(row!.suspended, true);
    const standing = await api.request('GET', `/miners/${canned.id}/trust`, { token: api.adminToken });
    assert.deepEqual(standing.body.verifications.map((v: Record<string, unknown>) => [v.passed, v.failed, v.verified]), [[0, 3, false]]);
  });

  it('catches a miner running another model under the same name at its first canary', async () => {
    const switched = await startMiner('switched', { FAKE_LLAMA_MODEL_VARIANT: '3' });
    await canary(3);
    assert.equal(await suspicions(switched.id), 1);
    const [answer] = await query(`SELECT verdict, agreed_chars FROM mia.canary_answers WHERE miner_id = $1`, [switched.id]);
    assert.equal(answer!.verdict, 'fail');
  });
});

describe('canaries look like any job to a miner', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await api?.close();
  });

  it('hands out a canary with the same fields, of the same types, as a customer chat', async () => {
    const miner = await registerMiner(api, { model: 'shape-model' });
    const business = await createBusiness(api);
    assert.equal((await submitChat(api, business, { message: 'Where is my parcel?', model: 'shape-model' })).status, 202);
    const real = await claimJob(api, miner);
    assert.equal(real.status, 200, real.text);
    await postResult(api, miner, real.body);
    assert.equal((await api.request('POST', '/canaries', { token: api.adminToken, body: { model: 'shape-model' } })).status, 201);
    const canaryJob = await claimJob(api, miner);
    assert.equal(canaryJob.status, 200, canaryJob.text);
    const shape = (job: Record<string, unknown>) => Object.fromEntries(Object.entries(job).map(([k, v]) => [k, v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v]));
    const realShape = shape(real.body);
    const canaryShape = shape(canaryJob.body);
    // Values may be null in either (a sampling the client did not send); keys never differ.
    assert.deepEqual(Object.keys(canaryShape).sort(), Object.keys(realShape).sort());
    for (const key of Object.keys(realShape)) {
      if (realShape[key] !== 'null' && canaryShape[key] !== 'null') assert.equal(canaryShape[key], realShape[key], key);
    }
    assert.equal(canaryJob.body.messages[0].role, 'system');
    assert.notEqual(canaryJob.body.business_id, business.id);
    // The operator's list shows customers only.
    const list = await api.request('GET', '/businesses?limit=100', { token: api.adminToken });
    assert.ok(!list.body.businesses.some((b: { id: string }) => b.id === canaryJob.body.business_id));
  });

  it('establishes a known answer from independent miners that agree, counting one address once', async () => {
    const register = async (asOperator: boolean) => {
      const res = await api.request('POST', '/register_miner', {
        token: asOperator ? api.adminToken : undefined,
        body: { name: `agree-${Math.random().toString(36).slice(2, 10)}`, model: 'agree-model' },
      });
      assert.equal(res.status, 201, res.text);
      return { miner_id: res.body.miner_id as string, auth_key: res.body.auth_key as string, name: '' };
    };
    const answer = async (miner: { miner_id: string; auth_key: string; name: string }, output: string) => {
      assert.equal((await api.request('POST', '/canaries', { token: api.adminToken, body: { model: 'agree-model', prompt_index: 5 } })).status, 201);
      const claimed = await claimJob(api, miner);
      assert.equal(claimed.status, 200, claimed.text);
      assert.equal((await postResult(api, miner, claimed.body, { output })).status, 200);
    };
    const expected = 'A fallen branch is usually covered by comprehensive insurance; please send us photos of the damage.';
    const known = async () =>
      (await withClient(api.databaseUrl, (c) => c.query(`SELECT source FROM mia.canary_expectations WHERE model = 'agree-model'`))).rows;
    // Two identities on one address (registered from 127.0.0.1, as the test client) count once…
    const sameAddress = [await register(false), await register(false)];
    for (const miner of sameAddress) await answer(miner, expected);
    const liar = await register(false);
    await answer(liar, 'We will get back to you shortly.');
    assert.deepEqual(await known(), [], 'no agreement yet: one address and a dissenter');
    // …and two more independent sources make three (MIA_CANARY_AGREEMENT).
    for (const miner of [await register(true), await register(true)]) await answer(miner, expected);
    assert.deepEqual(await known(), [{ source: 'agreement' }]);
    const verdicts = (await withClient(api.databaseUrl, (c) =>
      c.query(`SELECT miner_id, verdict FROM mia.canary_answers WHERE model = 'agree-model'`))).rows as { miner_id: string; verdict: string }[];
    assert.equal(verdicts.find((v) => v.miner_id === liar.miner_id)?.verdict, 'fail', 'the dissenter is judged once the answer is known');
    assert.ok(verdicts.filter((v) => v.miner_id !== liar.miner_id).every((v) => v.verdict === 'pass'));
    const [suspected] = (await withClient(api.databaseUrl, (c) =>
      c.query(`SELECT count(*)::int AS n FROM mia.miner_suspicions WHERE miner_id = $1 AND reason = 'canary_mismatch'`, [liar.miner_id]))).rows;
    assert.equal(suspected.n, 1);
  });
});

describe('the canary task', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await api?.close();
  });

  it('submits MIA_CANARY_RATE canaries per online miner per hour for each model, at most one waiting per miner', async () => {
    await registerMiner(api, { model: 'rate-model' });
    await registerMiner(api, { model: 'rate-model' });
    const config = loadConfig(testEnv(api.databaseUrl, { MIA_CANARY_RATE: '3600' })); // one per miner per second
    const db = await createDatabasePool(api.databaseUrl, { size: 1 });
    try {
      const queued = async () =>
        (await withClient(api.databaseUrl, (c) =>
          c.query(`SELECT count(*)::int AS n FROM mia.jobs WHERE canary_prompt IS NOT NULL AND model = 'rate-model' AND status = 'queued'`))).rows[0].n;
      assert.deepEqual(await topUpCanaries({ db, config }, 1000, () => 0.99), { canaries: 2 });
      assert.equal(await queued(), 2);
      assert.deepEqual(await topUpCanaries({ db, config }, 1000, () => 0), { canaries: 0 }, 'two miners, two waiting: none more');
      // Half a canary per tick comes out as one on a lucky draw, none on an unlucky one.
      await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET status = 'cancelled' WHERE canary_prompt IS NOT NULL`));
      assert.deepEqual(await topUpCanaries({ db, config }, 250, () => 0.4), { canaries: 1 });
      assert.deepEqual(await topUpCanaries({ db, config }, 250, () => 0.6), { canaries: 0 });
    } finally {
      await db.end();
    }
  });
});
