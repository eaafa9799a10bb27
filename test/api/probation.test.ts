// New identities are on probation (issue 16): a fresh miner gets one slot until it has
// MIA_PROBATION_JOBS credited jobs, what it drops does not burn the job's attempts, and
// a suspended miner cannot come straight back under a new name. Every suite elsewhere
// runs with probation off (test/support/apiServer.ts); this one runs the production
// defaults, read back in SQL.
import assert from 'node:assert/strict';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { sql } from '../maintenance/support.ts';
import { reapExpiredLeases } from '../../api/maintenance/leaseReaper.ts';

type JobRow = { status: string; attempts: number; max_attempts: number; free_drops: number; error: string | null; claimable: boolean };

async function job(api: TestApi, id: string): Promise<JobRow> {
  const [row] = await sql<JobRow>(
    api.databaseUrl,
    `SELECT status, attempts, max_attempts, free_drops, error, run_after <= now() AS claimable FROM mia.jobs WHERE id = $1`,
    [id],
  );
  return row!;
}

async function running(api: TestApi, miner: TestMiner): Promise<number> {
  const [row] = await sql<{ n: number }>(api.databaseUrl, `SELECT count(*)::int AS n FROM mia.jobs WHERE miner_id = $1 AND status = 'running'`, [miner.miner_id]);
  return row!.n;
}

const batchClaim = (api: TestApi, miner: TestMiner, maxJobs: number) =>
  api.request('GET', `/jobs/next?miner_id=${miner.miner_id}&max_jobs=${maxJobs}&wait=0`, { token: miner.auth_key });

/** Completes `count` jobs honestly, one at a time: the way out of probation. */
async function serve(api: TestApi, business: TestBusiness, miner: TestMiner, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    assert.equal((await submitChat(api, business)).status, 202);
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.status, 200, claimed.text);
    const posted = await postResult(api, miner, claimed.body, { output: 'We open at nine tomorrow.', tokens_generated: 6 });
    assert.equal(posted.status, 200, posted.text);
  }
}

describe('new miners are on probation', () => {
  const api = useTestApi({
    env: {
      MIA_WORKER: 'off',
      MIA_PROBATION_JOBS: '5',
      MIA_PROBATION_SLOTS: '1',
      MIA_PROBATION_FREE_DROPS: '4',
      MIA_SUSPENDED_ADDRESS_HOLD_HOURS: '24',
      // A counted failure would wait 30 s: a free one must not.
      MIA_RETRY_BACKOFF_SECONDS: '30',
    },
  });

  it('a miner on probation asking for 100 slots holds at most 1 running job; after 5 honest completions it gets its slots', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 100 });
    for (let i = 0; i < 6; i++) assert.equal((await submitChat(api, business)).status, 202);

    const first = await batchClaim(api, miner, 100);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.jobs.length, 1, 'one job per claim on probation');
    assert.equal((await batchClaim(api, miner, 100)).status, 204, 'no second job while it runs one');
    assert.equal((await claimJob(api, miner)).status, 204);
    assert.equal(await running(api, miner), 1);

    await postResult(api, miner, first.body.jobs[0], { output: 'Yes, we repair e-bikes.', tokens_generated: 6 });
    // Four more, one at a time: the probation claim never hands out two.
    for (let i = 0; i < 4; i++) {
      const claimed = await batchClaim(api, miner, 100);
      assert.equal(claimed.body.jobs.length, 1, claimed.text);
      assert.equal(await running(api, miner), 1);
      const posted = await postResult(api, miner, claimed.body.jobs[0], { output: 'Yes, we repair e-bikes.', tokens_generated: 6 });
      assert.equal(posted.status, 200, posted.text);
    }
    const [credited] = await sql<{ n: number }>(api.databaseUrl, `SELECT count(*)::int AS n FROM mia.miner_credits WHERE miner_id = $1 AND kind = 'job'`, [miner.miner_id]);
    assert.equal(credited!.n, 5);

    for (let i = 0; i < 5; i++) assert.equal((await submitChat(api, business)).status, 202);
    const all = await batchClaim(api, miner, 100);
    assert.equal(all.body.jobs.length, 6, 'off probation: all six queued jobs in one claim');
    assert.equal(await running(api, miner), 6);
    const [free] = await sql<{ n: number }>(api.databaseUrl, `SELECT count(*)::int AS n FROM mia.jobs WHERE miner_id = $1 AND status = 'running' AND drop_free`, [miner.miner_id]);
    assert.equal(free!.n, 0, 'its drops count now');
  });

  it('a drop by a miner on probation burns no attempt (offline, failure, heartbeat, expired lease) up to MIA_PROBATION_FREE_DROPS; a veteran\'s counts', async () => {
    const business = await createBusiness(api);
    const veteran = await registerMiner(api);
    await serve(api, business, veteran, 5);
    const chat = await submitChat(api, business);
    const jobId = chat.body.job_id as string;
    const newcomer = await registerMiner(api);
    const claim = async () => {
      const claimed = await claimJob(api, newcomer);
      assert.equal(claimed.status, 200, claimed.text);
      assert.equal(claimed.body.job_id, jobId);
      return claimed.body as { job_id: string; lease_token: string };
    };

    // 1. An `offline` report.
    await claim();
    const offline = await api.request('POST', `/miner/${newcomer.miner_id}/status`, { token: newcomer.auth_key, body: { status: 'offline' } });
    assert.equal(offline.body.jobs_released, 1, offline.text);
    assert.deepEqual(await job(api, jobId), {
      status: 'queued', attempts: 1, max_attempts: 4, free_drops: 1, claimable: true,
      error: 'attempt 1 of 4 (not counted: its miner is on probation): its miner went offline while running it',
    });

    // 2. A reported failure: no backoff either (MIA_RETRY_BACKOFF_SECONDS is 30 here).
    const second = await claim();
    const failed = await postResult(api, newcomer, second, { success: false, error: 'llama-server is not running', output: undefined, tokens_generated: undefined });
    assert.equal(failed.status, 200, failed.text);
    assert.deepEqual(await job(api, jobId), {
      status: 'queued', attempts: 2, max_attempts: 5, free_drops: 2, claimable: true,
      error: 'llama-server is not running (not counted: its miner is on probation)',
    });

    // 3. A heartbeat that no longer names it (past the claim grace).
    await claim();
    await sql(api.databaseUrl, `UPDATE mia.jobs SET claimed_at = now() - interval '1 minute' WHERE id = $1`, [jobId]);
    const beat = await api.request('POST', `/miner/${newcomer.miner_id}/status`, { token: newcomer.auth_key, body: { status: 'idle', running: [] } });
    assert.equal(beat.body.jobs_released, 1, beat.text);
    assert.deepEqual((await job(api, jobId)).max_attempts, 6);

    // 4. A lease that runs out.
    await claim();
    await sql(api.databaseUrl, `UPDATE mia.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [jobId]);
    assert.deepEqual(await reapExpiredLeases(api.server.ctx.db), { requeued: 1, dead_lettered: 0 });
    assert.deepEqual(await job(api, jobId), {
      status: 'queued', attempts: 4, max_attempts: 7, free_drops: 4, claimable: true,
      // One give-back transition (mia.job_give_back): every drop records its own reason.
      error: 'attempt 4 of 7 (not counted: its miner is on probation): lease expired (its miner stopped responding)',
    });

    // 5. The ceiling: MIA_PROBATION_FREE_DROPS (4) used, this drop counts.
    await claim();
    await api.request('POST', `/miner/${newcomer.miner_id}/status`, { token: newcomer.auth_key, body: { status: 'offline' } });
    assert.deepEqual(await job(api, jobId), {
      status: 'queued', attempts: 5, max_attempts: 7, free_drops: 4, claimable: true,
      error: 'attempt 5 of 7: its miner went offline while running it',
    });

    // A veteran's drop counts: the job dead-letters at max_attempts.
    for (const attempt of [6, 7]) {
      const claimed = await claimJob(api, veteran);
      assert.equal(claimed.body.job_id, jobId, claimed.text);
      await api.request('POST', `/miner/${veteran.miner_id}/status`, { token: veteran.auth_key, body: { status: 'offline' } });
      assert.equal((await job(api, jobId)).attempts, attempt);
    }
    const dead = await job(api, jobId);
    assert.equal(dead.status, 'failed');
    assert.equal(dead.error, 'attempt 7 of 7: its miner went offline while running it');
  });

  it('a suspended miner\'s new identity from the same address gets no job (403 miner_held) until the operator reinstates it', async () => {
    const business = await createBusiness(api);
    const older = await registerMiner(api);
    const suspended = await registerMiner(api);
    const patched = await api.request('PATCH', `/miners/${suspended.miner_id}`, { token: api.adminToken, body: { suspended: true, reason: 'dropped every job' } });
    assert.equal(patched.status, 200, patched.text);
    const again = await registerMiner(api, { ip_address: '203.0.113.9' }); // what it says about itself does not matter

    const chat = await submitChat(api, business);
    const jobId = chat.body.job_id as string;
    // Its first claims, single and batch, parked or not: refused while the job waits.
    for (const path of [`/job/next?miner_id=${again.miner_id}&wait=0`, `/jobs/next?miner_id=${again.miner_id}&max_jobs=10&wait=0`, `/job/next?miner_id=${again.miner_id}&wait=1`]) {
      const refused = await api.request('GET', path, { token: again.auth_key });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.error.code, 'miner_held');
      assert.match(refused.body.error.message, /suspended within the last 24 h/);
    }
    assert.equal((await job(api, jobId)).status, 'queued');
    const [row] = await sql<{ registered_from: string; ip_address: string }>(api.databaseUrl, 'SELECT registered_from, ip_address FROM mia.miners WHERE id = $1', [again.miner_id]);
    assert.match(row!.registered_from, /127\.0\.0\.1/);
    assert.equal(row!.ip_address, '203.0.113.9');

    // A miner registered from that address before the suspension is not held.
    const earlier = await claimJob(api, older);
    assert.equal(earlier.status, 200, earlier.text);
    assert.equal(earlier.body.job_id, jobId);

    const reinstated = await api.request('PATCH', `/miners/${again.miner_id}`, { token: api.adminToken, body: { suspended: false, reason: 'known volunteer' } });
    assert.equal(reinstated.status, 200, reinstated.text);
    await submitChat(api, business);
    assert.equal((await claimJob(api, again)).status, 200, 'claims work after the operator reinstates it');
  });
});

describe('the hold on a suspended miner\'s address is off with MIA_SUSPENDED_ADDRESS_HOLD_HOURS=0', () => {
  const api = useTestApi({ env: { MIA_WORKER: 'off', MIA_SUSPENDED_ADDRESS_HOLD_HOURS: '0' } });

  it('a new identity from that address claims at once', async () => {
    const business = await createBusiness(api);
    const suspended = await registerMiner(api);
    await api.request('PATCH', `/miners/${suspended.miner_id}`, { token: api.adminToken, body: { suspended: true, reason: 'test' } });
    const again = await registerMiner(api);
    await submitChat(api, business);
    assert.equal((await claimJob(api, again)).status, 200);
  });
});

// Its own API: a suspension holds the address (127.0.0.1) of every later registration.
describe('a miner suspended while parked', () => {
  const api = useTestApi({ env: { MIA_WORKER: 'off' } });

  it('a miner suspended while its long-poll is parked gets none of the jobs queued meanwhile, and its next claim is refused (403)', async () => {
    const business = await createBusiness(api);
    const honest = await registerMiner(api);
    const suspect = await registerMiner(api);
    const poll = claimJob(api, suspect, 1);
    for (let i = 0; i < 500 && api.server.ctx.dispatcher.parked === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(api.server.ctx.dispatcher.parked, 1, 'the suspect is parked');
    const patched = await api.request('PATCH', `/miners/${suspect.miner_id}`, { token: api.adminToken, body: { suspended: true, reason: 'forged results' } });
    assert.equal(patched.status, 200, patched.text);
    // The job wakes the dispatcher, whose round claims for the parked suspect: the claim
    // itself gives a suspended miner nothing (mia.claim_jobs), so the poll ends empty.
    const jobId = (await submitChat(api, business)).body.job_id as string;
    assert.equal((await poll).status, 204);
    assert.equal((await job(api, jobId)).status, 'queued');
    const refused = await claimJob(api, suspect);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.error.code, 'miner_suspended');
    const served = await claimJob(api, honest);
    assert.equal(served.status, 200, served.text);
    assert.equal(served.body.job_id, jobId);
  });
});
