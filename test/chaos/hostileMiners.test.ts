// Miners are strangers. Each test here lets one kind of misbehaving miner loose
// (scripted HTTP miners, or the real mia-miner with the llama-server double told to
// misbehave) against two API processes on one database, and checks in SQL at the end
// that every job ended — completed once, or failed with its reason — and that the
// credit ledger matches the work (mia.credit_discrepancies() empty).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApiProcess, type ApiProcess } from '../support/apiProcess.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import type { TestBusiness, TestMiner } from '../support/factories.ts';
import { fakeLlamaServer, fakeModel, MinerProcess, tempDir } from '../miner/helpers.ts';
import { checked, client, createBusiness, injected, sleep, until, type Client } from './chaosKit.ts';
import { collectSse } from '../support/sse.ts';

type JobState = { id: string; status: string; attempts: number; error: string | null; miner_id: string | null; assistant_rows: number };

describe('chaos: hostile miners', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let apiA: ApiProcess;
  let apiB: ApiProcess;
  let a: Client;
  let b: Client;
  let business: TestBusiness;
  const miners: MinerProcess[] = [];
  const dirs: { remove: () => void }[] = [];

  let env: Record<string, string>;

  before(async () => {
    database = await createTestDatabase();
    env = {
      MIA_LEASE_BASE_SECONDS: '3',
      MIA_LEASE_MS_PER_TOKEN: '0',
      MIA_REAP_INTERVAL_MS: '200',
      MIA_HEARTBEAT_CLAIM_GRACE_SECONDS: '1',
      // The real retry policy, faster: back off, then prefer a miner that has not tried.
      MIA_RETRY_BACKOFF_SECONDS: '0.3',
      MIA_RETRY_AVOID_SECONDS: '60',
      MIA_RATE_LIMIT_MINER_PER_SECOND: '0',
    };
    apiA = await startApiProcess(database.url, env);
    // A second replica, as SPEC §1 runs them: no maintenance worker of its own.
    apiB = await startApiProcess(database.url, { ...env, MIA_WORKER: 'off' });
    a = client(apiA.url);
    b = client(apiB.url);
    business = await createBusiness(a);
  });
  afterEach(async () => {
    for (const miner of miners.splice(0)) await miner.kill();
    // Every test starts with no miner online: one test's miners must not serve the next's jobs.
    await withClient(database.url, (c) => c.query(`UPDATE mia.miners SET status = 'offline'`));
  });
  after(async () => {
    await apiB?.stop();
    await apiA?.stop();
    await database?.drop();
    for (const dir of dirs) dir.remove();
  });

  async function register(api: Client, slots = 1, name = `hostile-${randomUUID().slice(0, 8)}`): Promise<TestMiner> {
    const res = await api.request('POST', '/register_miner', { body: { name, slots } });
    assert.equal(res.status, 201, res.text);
    return { miner_id: res.body.miner_id, auth_key: res.body.auth_key, name };
  }

  async function submit(api: Client, count: number, body: Record<string, unknown> = {}): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await api.request('POST', '/chat', { token: business.api_key, body: { message: `Question ${i}: where is my order?`, wait: 0, ...body } });
      assert.equal(res.status, 202, res.text);
      ids.push(res.body.job_id);
    }
    return ids;
  }

  /** The real mia-miner with the llama-server double; `env` tells the double how to misbehave. */
  function realMiner(api: Client, name: string, args: string[] = [], env: Record<string, string> = {}): MinerProcess {
    const state = tempDir();
    dirs.push(state);
    const miner = new MinerProcess(
      ['run', '--backend-url', api.url, '--name', name, '--llama-server', fakeLlamaServer, '--model', fakeModel,
        '--state-dir', state.path, '--slots', '1', '--gpu-layers', '0', '--poll-wait', '2', '--stop-grace', '1',
        '--drain-timeout', '2', '--restart-backoff', '0.1', ...args],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi', ...env },
    );
    miners.push(miner);
    return miner;
  }

  const states = (ids: readonly string[]) =>
    withClient(database.url, async (c) =>
      (await c.query<JobState>(
        `SELECT j.id, j.status, j.attempts, j.error, j.miner_id,
                (SELECT count(*)::int FROM mia.chat_logs l WHERE l.job_id = j.id AND l.role = 'assistant') AS assistant_rows
         FROM mia.jobs j WHERE j.id = ANY($1) ORDER BY j.created_at`, [ids])).rows);

  /** Every job ended within `timeoutMs`: completed with exactly one answer, or failed/cancelled with a reason. */
  async function allEnded(ids: readonly string[], timeoutMs: number): Promise<JobState[]> {
    const rows = await until('every job to end', async () => {
      const now = await states(ids);
      return now.every((r) => ['completed', 'failed', 'cancelled'].includes(r.status)) ? now : undefined;
    }, timeoutMs, 200);
    for (const row of rows) {
      if (row.status === 'completed') assert.equal(row.assistant_rows, 1, `job ${row.id}: one answer`);
      else assert.ok(row.error, `job ${row.id} ${row.status} with a reason`);
    }
    return rows;
  }

  async function ledgerClean(): Promise<void> {
    const off = await withClient(database.url, (c) => c.query(`SELECT * FROM mia.credit_discrepancies()`));
    assert.deepEqual(off.rows, [], 'credits match the completed work');
  }

  const count = (rows: JobState[], status: string) => rows.filter((r) => r.status === status).length;

  it('the hoarder: a slots=1 miner claiming 300 times holds one job; an honest miner finishes the rest', async () => {
    const hoarder = await register(a, 1);
    const honest = await register(b, 1);
    const ids = await submit(a, 20);
    let hoarderMax = 0;
    let claims = 0;
    const hoard = (async () => {
      for (; claims < 300; claims++) {
        const api = claims % 2 ? a : b;
        await api.request('GET', `/jobs/next?miner_id=${hoarder.miner_id}&max_jobs=10&wait=0`, { token: hoarder.auth_key });
        const held = await withClient(database.url, async (c) =>
          (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM mia.jobs WHERE miner_id = $1 AND status = 'running'`, [hoarder.miner_id])).rows[0]!.n);
        hoarderMax = Math.max(hoarderMax, held);
      }
    })();
    let stop = false;
    const work = (async () => {
      while (!stop) {
        const res = await b.request('GET', `/job/next?miner_id=${honest.miner_id}&wait=1`, { token: honest.auth_key });
        if (res.status !== 200) continue;
        await a.request('POST', '/job/result', {
          token: honest.auth_key,
          body: { job_id: res.body.job_id, miner_id: honest.miner_id, lease_token: res.body.lease_token, success: true, output: 'Tomorrow.', tokens_generated: 3 },
        });
      }
    })();
    await hoard;
    injected(`a miner registered with slots=1 sent ${claims} batch claims (max_jobs=10) through both API processes, never answering`);
    // The job the hoarder sits on comes back when its lease runs out (no heartbeat).
    const rows = await allEnded(ids, 30_000);
    stop = true;
    await work;
    assert.ok(hoarderMax <= 1, `the hoarder held ${hoarderMax} jobs at once`);
    const byHonest = rows.filter((r) => r.status === 'completed' && r.miner_id === honest.miner_id).length;
    checked(`the hoarder held at most ${hoarderMax} running job at a time; all ${ids.length} jobs ended: ${byHonest} completed by the honest miner, ${count(rows, 'failed')} dead-lettered`);
    await ledgerClean();
  });

  it('the crasher: a job that crashes llama-server every time dead-letters after max_attempts, with the reason', async () => {
    const crasher = realMiner(b, 'crasher', ['--max-restarts', '50', '--generation-timeout', '10'], { FAKE_LLAMA_CRASH_AFTER: '0' });
    await crasher.waitFor(/status idle/, 20_000);
    const ids = await submit(a, 1, { message: 'This prompt crashes every llama-server.' });
    injected('llama-server (the double, FAKE_LLAMA_CRASH_AFTER=0) dies mid-generation of every request; mia-miner restarts it each time');
    const [job] = await allEnded(ids, 60_000);
    assert.equal(job!.status, 'failed');
    assert.equal(job!.attempts, 3);
    const restarts = crasher.output.match(/restarting llama-server/g)?.length ?? 0;
    assert.ok(restarts >= 3, `llama-server restarted ${restarts} times`);
    checked(`job failed after ${job!.attempts} attempts (max_attempts), error: "${job!.error}"; llama-server restarted ${restarts} times; the miner kept serving`);
    await ledgerClean();
  });

  it('a small-context miner beside a big one: every job completes, on the big one', async () => {
    const small = realMiner(a, 'small-context', ['--ctx-per-slot', '256']);
    const big = realMiner(b, 'big-context', ['--ctx-per-slot', '4096']);
    await small.waitFor(/status idle/, 20_000);
    await big.waitFor(/status idle/, 20_000);
    // ~600 prompt tokens: more than 256, well within 4096.
    const long = 'My order has not arrived and I would like to know where it is. '.repeat(36);
    const ids = await submit(b, 10, { message: long, max_tokens: 16 });
    injected('10 jobs of ~600 prompt tokens; one miner runs llama-server with a 256-token context, the other 4096');
    const rows = await allEnded(ids, 60_000);
    assert.equal(count(rows, 'completed'), ids.length, JSON.stringify(rows.filter((r) => r.status !== 'completed')));
    const bigId = (await withClient(database.url, async (c) =>
      (await c.query<{ id: string }>(`SELECT id FROM mia.miners WHERE name = 'big-context'`)).rows[0]!.id));
    assert.ok(rows.every((r) => r.miner_id === bigId), 'all answered by the big miner');
    assert.ok(rows.every((r) => r.attempts <= 2), 'the small miner had at most one go at each job');
    const failedOnSmall = small.output.match(/exceeds the available context size/g)?.length ?? 0;
    checked(`all 10 completed on the big miner, attempts ≤ 2 each; the small one failed ${failedOnSmall} attempts (routing by context keeps such jobs from it; retries move on if the estimate misjudges one)`);
    await ledgerClean();
  });

  it('the dropper: jobs a miner stops naming in its heartbeat go to another miner at once', async () => {
    const dropper = await register(a, 2);
    const honest = await register(b, 2);
    const ids = await submit(a, 2);
    const claimed = await b.request('GET', `/jobs/next?miner_id=${dropper.miner_id}&max_jobs=2&wait=0`, { token: dropper.auth_key });
    assert.equal(claimed.body.jobs.length, 2, claimed.text);
    await sleep(1100); // past MIA_HEARTBEAT_CLAIM_GRACE_SECONDS
    const beat = await a.request('POST', `/miner/${dropper.miner_id}/status`, { token: dropper.auth_key, body: { status: 'idle', running: [] } });
    assert.equal(beat.status, 200, beat.text);
    injected('a miner claimed 2 jobs, then heartbeated "idle" naming none of them (it gave up on them silently)');
    let stop = false;
    const work = (async () => {
      while (!stop) {
        const res = await a.request('GET', `/job/next?miner_id=${honest.miner_id}&wait=1`, { token: honest.auth_key });
        if (res.status !== 200) continue;
        await b.request('POST', '/job/result', {
          token: honest.auth_key,
          body: { job_id: res.body.job_id, miner_id: honest.miner_id, lease_token: res.body.lease_token, success: true, output: 'Shipped.', tokens_generated: 2 },
        });
      }
    })();
    const rows = await allEnded(ids, 20_000);
    stop = true;
    await work;
    assert.equal(count(rows, 'completed'), 2);
    assert.ok(rows.every((r) => r.miner_id === honest.miner_id && r.attempts === 2));
    const late = await b.request('POST', '/job/result', {
      token: dropper.auth_key,
      body: { job_id: ids[0], miner_id: dropper.miner_id, lease_token: claimed.body.jobs[0].lease_token, success: true, output: 'late', tokens_generated: 99 },
    });
    assert.equal(late.status, 409, late.text);
    checked('both dropped jobs were released by the heartbeat (attempt counted) and completed by the honest miner on attempt 2; the dropper\'s late result got 409');
    await ledgerClean();
  });

  it('a cancel mid-generation stops the real miner, which then serves the next job', async () => {
    // 20 tokens/s and 400 tokens: 20 s of generation if nothing stops it.
    const miner = realMiner(a, 'cancelled', [], { FAKE_LLAMA_TOKENS_PER_SECOND: '20' });
    await miner.waitFor(/status idle/, 20_000);
    const [jobId] = await submit(b, 1, { max_tokens: 400 });
    await until('streamed text of the job', async () =>
      withClient(database.url, async (c) => (await c.query(`SELECT 1 FROM mia.job_deltas WHERE job_id = $1`, [jobId])).rowCount! > 0), 15_000, 100);
    const cancel = await b.request('DELETE', `/job/${jobId}`, { token: business.api_key });
    assert.equal(cancel.status, 200, cancel.text);
    injected(`the business cancelled job ${jobId} while the miner was generating it (a 20 s answer)`);
    await miner.waitFor(new RegExp(`job ${jobId}(:)? .*(lease lost|stopped)`), 5_000);
    // The slot is free again: the next job is answered (long before the cancelled one would have ended).
    const [next] = await submit(a, 1, { max_tokens: 4 });
    const rows = await allEnded([jobId!, next!], 15_000);
    assert.deepEqual(rows.map((r) => r.status), ['cancelled', 'completed']);
    checked('the miner stopped generating the cancelled job (its next delta post was refused) and answered the next job; in SQL: cancelled, then completed');
    await ledgerClean();
  });

  it('sybil droppers: three fresh miners asking for 100 slots and reporting offline again and again; an honest one completes the jobs', async () => {
    // A replica with probation on, at the production defaults (the other replicas keep it
    // off, as every suite does: their older tests batch-claim with fresh miners).
    const apiP = await startApiProcess(database.url, { ...env, MIA_WORKER: 'off', MIA_PROBATION_JOBS: '5', MIA_PROBATION_SLOTS: '1', MIA_PROBATION_FREE_DROPS: '10' });
    try {
      const p = client(apiP.url);
      const sybils = [await register(p, 100), await register(p, 100), await register(p, 100)];
      const honest = await register(p, 1);
      const ids = await submit(p, 60);
      let stop = false;
      let drops = 0;
      let mostPerClaim = 0;
      const droppers = sybils.map(async (sybil) => {
        while (!stop) {
          const res = await p.request('GET', `/jobs/next?miner_id=${sybil.miner_id}&max_jobs=100&wait=1`, { token: sybil.auth_key });
          if (res.status !== 200) continue;
          mostPerClaim = Math.max(mostPerClaim, res.body.jobs.length);
          const off = await p.request('POST', `/miner/${sybil.miner_id}/status`, { token: sybil.auth_key, body: { status: 'offline' } });
          assert.equal(off.status, 200, off.text);
          drops += off.body.jobs_released;
        }
      });
      const work = (async () => {
        while (!stop) {
          const res = await p.request('GET', `/job/next?miner_id=${honest.miner_id}&wait=1`, { token: honest.auth_key });
          if (res.status !== 200) continue;
          await p.request('POST', '/job/result', {
            token: honest.auth_key,
            body: { job_id: res.body.job_id, miner_id: honest.miner_id, lease_token: res.body.lease_token, success: true, output: 'It ships today.', tokens_generated: 4 },
          });
        }
      })();
      injected('3 miners registered with slots=100 batch-claim (max_jobs=100) and report `offline` after every claim, beside 1 honest miner; 60 jobs');
      const rows = await allEnded(ids, 90_000);
      stop = true;
      await Promise.all([...droppers, work]);
      const completed = count(rows, 'completed');
      assert.ok(completed >= 57, `${completed} of 60 completed; failed: ${JSON.stringify(rows.filter((r) => r.status !== 'completed').slice(0, 3))}`);
      assert.ok(mostPerClaim <= 1, `a sybil got ${mostPerClaim} jobs in one claim`);
      const [sums] = await withClient(database.url, async (c) =>
        (await c.query<{ free: number; burnt: number }>(
          `SELECT coalesce(sum(free_drops), 0)::int AS free,
                  count(*) FILTER (WHERE error LIKE '%went offline%' AND error NOT LIKE '%not counted%')::int AS burnt
           FROM mia.jobs WHERE id = ANY($1)`, [ids])).rows);
      assert.equal(sums!.free, drops, 'every drop by a miner on probation was free');
      assert.equal(sums!.burnt, 0, 'no attempt burnt by an offline report');
      checked(`${completed} of 60 completed; the sybils got at most ${mostPerClaim} job per claim and dropped ${drops} times, all free (sum of free_drops ${sums!.free})`);
      await ledgerClean();
    } finally {
      await apiP.stop();
    }
  });

  it('the phishing streamer: it streams a phishing link, then posts an honest result; the result is refused, the reader retracts, an honest miner answers', async () => {
    const hostile = await register(a);
    const [jobId] = await submit(a, 1);
    // A customer follows the job on the other replica.
    const res = await fetch(`${b.url}/job/${jobId}/stream`, { headers: { authorization: `Bearer ${business.api_key}` } });
    assert.equal(res.status, 200);
    const { events, ended: reading } = collectSse(res);
    const claimed = await a.request('GET', `/job/next?miner_id=${hostile.miner_id}&wait=5`, { token: hostile.auth_key });
    assert.equal(claimed.body.job_id, jobId);
    const phishing = 'Your card was blocked: re-enter it at http://evil.example/pay';
    for (const [seq, content] of [phishing.slice(0, 23), phishing.slice(23)].entries()) {
      const posted = await a.request('POST', `/job/${jobId}/deltas`, {
        token: hostile.auth_key,
        body: { lease_token: claimed.body.lease_token, seq, text_start: seq === 0 ? 0 : 23, content },
      });
      assert.equal(posted.status, 200, posted.text);
    }
    await until('the customer to see streamed text', async () => events.some((e) => e.event === 'delta'), 10_000);
    const result = await a.request('POST', '/job/result', {
      token: hostile.auth_key,
      body: { job_id: jobId, miner_id: hostile.miner_id, lease_token: claimed.body.lease_token, success: true, output: 'Your order ships tomorrow.', tokens_generated: 6 },
    });
    injected('a miner streamed a phishing link to a customer, then posted an honest-looking, different result');
    assert.equal(result.status, 422, result.text);
    assert.equal(result.body.error.code, 'result_contradicts_stream');

    realMiner(b, 'honest-after-phisher');
    const [row] = await allEnded([jobId!], 30_000);
    assert.equal(row!.status, 'completed');
    await reading;
    const audit = await withClient(database.url, async (c) => ({
      suspicions: (await c.query(`SELECT reason FROM mia.miner_suspicions WHERE miner_id = $1`, [hostile.miner_id])).rows,
      retractions: (await c.query(`SELECT streamed FROM mia.job_retractions WHERE job_id = $1`, [jobId])).rows,
      output: (await c.query<{ output: string }>(`SELECT output FROM mia.jobs WHERE id = $1`, [jobId])).rows[0]!.output,
    }));
    assert.deepEqual(audit.suspicions, [{ reason: 'stream_contradicted' }]);
    assert.deepEqual(audit.retractions, [{ streamed: phishing }]);
    // What the customer assembled (a restart wipes it) is the stored answer; the link never reached it.
    let text = '';
    let everShown = '';
    for (const e of events) {
      if (e.event === 'restart') text = '';
      if (e.event === 'delta') {
        const piece = (JSON.parse(e.data) as { text: string }).text;
        text += piece;
        everShown += piece;
      }
    }
    const names = events.map((e) => e.event);
    assert.equal(names.at(-1), 'done');
    assert.ok(names.indexOf('restart') > names.indexOf('delta'), names.join(','));
    assert.equal(text, audit.output);
    assert.equal((JSON.parse(events.at(-1)!.data) as { response: string }).response, audit.output);
    assert.ok(!everShown.includes('evil.example'), everShown);
    checked('the contradicting result was refused (422), the customer got restart before the honest miner\'s text and a done equal to what it assembled; in SQL: a suspicion, the retracted text, the job completed once');
    await ledgerClean();
  });

  it('a job no miner can take fails at its queue deadline with no_miner_available', async () => {
    const ids = await submit(a, 1, { queue_timeout: 1 });
    injected('a job submitted while no miner is online, queue_timeout 1 s');
    const [job] = await allEnded(ids, 10_000);
    assert.equal(job!.status, 'failed');
    assert.match(job!.error!, /^no_miner_available/);
    checked(`failed with "${job!.error}"`);
  });
});
