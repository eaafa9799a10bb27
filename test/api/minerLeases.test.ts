// Leases are per job. A miner that misbehaves on purpose — drops a job and keeps
// heartbeating, crashes on a poison job and restarts, heartbeats forever — cannot keep a
// job `running` past its bounds; every job ends, checked in SQL.
import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestMiner } from '../support/factories.ts';

type JobState = { status: string; attempts: number; miner_id: string | null; error: string | null; lease_live: boolean | null };

describe('per-job leases against misbehaving miners', function () {
  this.timeout(30_000);
  const api = useTestApi({ env: { MIA_LEASE_MAX_SECONDS: '600', MIA_HEARTBEAT_CLAIM_GRACE_SECONDS: '10', MIA_WORKER: 'off' } });

  const job = (id: string) =>
    withClient(api.databaseUrl, async (c) =>
      (await c.query<JobState>('SELECT status, attempts, miner_id, error, lease_expires_at > now() AS lease_live FROM mia.jobs WHERE id = $1', [id])).rows[0]!,
    );
  const ageClaim = (id: string, seconds: number) =>
    withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET claimed_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, seconds]));
  const heartbeat = (miner: TestMiner, status: string, running?: string[]) =>
    api.request('POST', `/miner/${miner.miner_id}/status`, { token: miner.auth_key, body: running ? { status, running } : { status } });

  async function claimOne(miner: TestMiner, message = 'Where is my order?') {
    const business = await createBusiness(api);
    await submitChat(api, business, { message });
    const claim = await claimJob(api, miner);
    assert.equal(claim.status, 200, claim.text);
    return claim.body as { job_id: string; lease_token: string };
  }

  it('tells the miner which named leases are gone: a cancelled job comes back in leases_lost', async () => {
    const miner = await registerMiner(api);
    const business = await createBusiness(api);
    const chat = await submitChat(api, business, { message: 'Cancel me' });
    const claim = (await claimJob(api, miner)).body as { job_id: string; lease_token: string };
    assert.equal(claim.job_id, chat.body.job_id);
    const live = await heartbeat(miner, 'busy', [claim.lease_token]);
    assert.deepEqual(live.body.leases_lost, []);
    const cancel = await api.request('DELETE', `/job/${claim.job_id}`, { token: business.api_key });
    assert.equal(cancel.status, 200, cancel.text);
    const after = await heartbeat(miner, 'busy', [claim.lease_token]);
    assert.equal(after.status, 200, after.text);
    assert.deepEqual(after.body.leases_lost, [claim.lease_token]);
    assert.equal(after.body.leases_extended, 0);
  });

  it('the dropper: a job missing from the heartbeat goes back to the queue, attempt counted', async () => {
    const dropper = await registerMiner(api);
    const dropped = await claimOne(dropper);
    await ageClaim(dropped.job_id, 60);
    // Idle heartbeats used to extend every running job of the miner, forever.
    const beat = await heartbeat(dropper, 'idle', []);
    assert.equal(beat.status, 200, beat.text);
    assert.equal(beat.body.jobs_released, 1);
    const state = await job(dropped.job_id);
    assert.equal(state.status, 'queued');
    assert.equal(state.attempts, 1);
    assert.match(state.error!, /dropped by its miner/);
    const late = await postResult(api, dropper, dropped);
    assert.equal(late.status, 409, 'the dropper cannot complete it any more');
    const other = await registerMiner(api);
    const again = await claimJob(api, other);
    assert.equal(again.body.job_id, dropped.job_id);
    assert.equal(again.body.attempt, 2);
  });

  it('extends only the named leases, and spares a job claimed just now', async () => {
    const miner = await registerMiner(api, { slots: 4 });
    const kept = await claimOne(miner, 'kept');
    const forgotten = await claimOne(miner, 'forgotten');
    await ageClaim(kept.job_id, 60);
    await ageClaim(forgotten.job_id, 60);
    const fresh = await claimOne(miner, 'fresh'); // the report may predate this claim
    const beat = await heartbeat(miner, 'busy', [kept.lease_token]);
    assert.equal(beat.body.leases_extended, 1);
    assert.equal(beat.body.jobs_released, 1);
    assert.equal((await job(kept.job_id)).status, 'running');
    assert.equal((await job(forgotten.job_id)).status, 'queued');
    assert.equal((await job(fresh.job_id)).status, 'running');
  });

  it('a report without `running` extends nothing', async () => {
    const miner = await registerMiner(api);
    await claimOne(miner);
    const beat = await heartbeat(miner, 'busy');
    assert.equal(beat.status, 200, beat.text);
    assert.equal(beat.body.leases_extended, 0);
  });

  it('the eternal heartbeater: no lease outlives MIA_LEASE_MAX_SECONDS after its claim', async () => {
    const miner = await registerMiner(api);
    const claimed = await claimOne(miner);
    await ageClaim(claimed.job_id, 700);
    await heartbeat(miner, 'busy', [claimed.lease_token]);
    // The lease is capped at claim + 600 s, already past: the reaper takes it.
    assert.equal((await job(claimed.job_id)).lease_live, false);
  });

  it('the crasher: a poison job whose miner restarts and reports offline dead-letters after max_attempts', async () => {
    const crasher = await registerMiner(api);
    const first = await claimOne(crasher, 'poison');
    let attempts = 1;
    for (;;) {
      // The restarted miner's first report: offline (it used to give the attempt back).
      const beat = await heartbeat(crasher, 'offline');
      assert.equal(beat.status, 200);
      const state = await job(first.job_id);
      if (state.status === 'failed') {
        assert.equal(state.attempts, 3);
        assert.match(state.error!, /went offline/);
        break;
      }
      assert.equal(state.status, 'queued');
      assert.ok(attempts < 3, `still ${state.status} after ${attempts} crashes`);
      await heartbeat(crasher, 'idle', []);
      const again = await claimJob(api, crasher);
      assert.equal(again.body.job_id, first.job_id);
      attempts += 1;
    }
  });

  it('the hoarder: a miner never holds more running jobs than its slots', async () => {
    const business = await createBusiness(api);
    for (let i = 0; i < 8; i++) await submitChat(api, business, { message: `hoard ${i}` });
    const hoarder = await registerMiner(api, { slots: 3 });
    const batch = await api.request('GET', `/jobs/next?miner_id=${hoarder.miner_id}&max_jobs=8&wait=0`, { token: hoarder.auth_key });
    assert.equal(batch.status, 200, batch.text);
    assert.equal(batch.body.jobs.length, 3, 'max_jobs=8 with 3 slots gets 3');
    for (let i = 0; i < 5; i++) assert.equal((await claimJob(api, hoarder)).status, 204, 'no more while all slots are held');
    const honest = await registerMiner(api, { slots: 2 });
    assert.equal((await claimJob(api, honest)).status, 200, 'the queue is not hoarded');
    assert.equal((await postResult(api, hoarder, batch.body.jobs[0])).status, 200);
    assert.equal((await claimJob(api, hoarder)).status, 200, 'a freed slot takes a job again');
    const held = await withClient(api.databaseUrl, async (c) =>
      (await c.query("SELECT count(*)::int AS n FROM mia.jobs WHERE miner_id = $1 AND status = 'running'", [hoarder.miner_id])).rows[0].n,
    );
    assert.equal(held, 3);
  });

  it('results and heartbeats of one miner run concurrently without a deadlock', async () => {
    const miner = await registerMiner(api, { slots: 64 });
    const business = await createBusiness(api);
    const deadlocks = () =>
      withClient(api.databaseUrl, async (c) =>
        Number((await c.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks),
      );
    const before = await deadlocks();
    for (let round = 0; round < 5; round++) {
      const claims: { job_id: string; lease_token: string }[] = [];
      for (let i = 0; i < 12; i++) {
        await submitChat(api, business, { message: `round ${round} job ${i}` });
        claims.push((await claimJob(api, miner)).body);
      }
      const tokens = claims.map((c) => c.lease_token);
      const results = await Promise.all([
        ...claims.map((c) => postResult(api, miner, c)),
        ...claims.map(() => heartbeat(miner, 'busy', tokens)),
      ]);
      for (const r of results) assert.equal(r.status, 200, r.text);
    }
    assert.equal(await deadlocks(), before);
  });
});
