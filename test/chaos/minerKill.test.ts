import assert from 'node:assert/strict';
import { startApiProcess, type ApiProcess } from '../support/apiProcess.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { checked, client, createBusiness, injected, registerMiner, spawnSimulatedMiner, type SimulatedMiner } from './chaosKit.ts';

describe('chaos: a miner killed with SIGKILL while it holds a job', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let api: ApiProcess;
  const miners: SimulatedMiner[] = [];

  before(async () => {
    database = await createTestDatabase();
    api = await startApiProcess(database.url, {
      // Short leases, and a reaper that looks often, so the dead miner's job comes back in about a second.
      MIA_LEASE_BASE_SECONDS: '1',
      MIA_LEASE_MS_PER_TOKEN: '0',
      MIA_REAP_INTERVAL_MS: '200',
    });
  });
  after(async () => {
    await Promise.all(miners.map((m) => m.stop()));
    await api?.stop();
    await database?.drop();
  });

  it('completes the job on another miner with exactly one result and one chat-log row per role', async () => {
    const http = client(api.url);
    const business = await createBusiness(http);
    const doomed = await registerMiner(http, 'doomed');
    const survivor = await registerMiner(http, 'survivor');

    const holder = spawnSimulatedMiner(api.url, doomed, 'hold');
    miners.push(holder);
    await holder.next('ready', 15_000);
    const chat = await http.request('POST', '/chat', { token: business.api_key, body: { message: 'Is my order shipped?', wait: 0 } });
    assert.equal(chat.status, 202, chat.text);
    const claim = await holder.next('claimed', 15_000);
    assert.equal(claim.job_id, chat.body.job_id);

    holder.child.kill('SIGKILL');
    const death = await holder.exited;
    assert.equal(death.signal, 'SIGKILL');
    injected(`kill -9 of miner process ${holder.child.pid} holding job ${claim.job_id} (lease 1 s, no heartbeat)`);

    const worker = spawnSimulatedMiner(api.url, survivor, 'work');
    miners.push(worker);
    // Long-poll the result: the lease expires, the reaper requeues, the survivor answers.
    const result = await http.request('GET', `/job/${claim.job_id}/result?wait=30`, { token: business.api_key });
    assert.equal(result.status, 200, result.text);
    assert.equal(result.body.status, 'completed');
    assert.equal(result.body.response, 'answer to: Is my order shipped?');
    checked(`job ${claim.job_id} completed by the surviving miner after the lease expired`);

    // The dead miner's lease is fenced off: its late result changes nothing.
    const zombie = await http.request('POST', '/job/result', {
      token: doomed.auth_key,
      body: { job_id: claim.job_id, miner_id: doomed.miner_id, success: true, output: 'late', tokens_generated: 1, lease_token: claim.lease_token },
    });
    assert.equal(zombie.status, 409, zombie.text);
    assert.equal(zombie.body.error.code, 'lease_lost');
    checked('a result sent later with the killed miner\'s lease is refused with 409 lease_lost');

    await withClient(database.url, async (db) => {
      const job = await db.query(`SELECT status, miner_id, attempts, output FROM mia.jobs WHERE id = $1`, [claim.job_id]);
      assert.deepEqual(job.rows, [{ status: 'completed', miner_id: survivor.miner_id, attempts: 2, output: 'answer to: Is my order shipped?' }]);
      const logs = await db.query(`SELECT role, count(*)::int AS n FROM mia.chat_logs WHERE job_id = $1 GROUP BY role ORDER BY role`, [claim.job_id]);
      assert.deepEqual(logs.rows, [{ role: 'assistant', n: 1 }, { role: 'user', n: 1 }]);
      const counts = await db.query(`SELECT name, job_count::int, total_tokens_generated::int AS tokens FROM mia.miners ORDER BY name`);
      assert.deepEqual(counts.rows, [
        { name: 'doomed', job_count: 0, tokens: 0 },
        { name: 'survivor', job_count: 1, tokens: 3 },
      ]);
      const jobs = await db.query(`SELECT count(*)::int AS n FROM mia.jobs`);
      assert.equal(jobs.rows[0].n, 1, 'no second job was created');
      // The credit ledger agrees: tokens × rate for each completed, unsuspected job, once.
      const off = await db.query(`SELECT * FROM mia.credit_discrepancies()`);
      assert.deepEqual(off.rows, []);
      const credited = await db.query(`SELECT m.name, sum(c.credits)::int AS credits FROM mia.miner_credits c JOIN mia.miners m ON m.id = c.miner_id WHERE c.kind = 'job' GROUP BY m.name`);
      assert.deepEqual(credited.rows, [{ name: 'survivor', credits: 3 }]);
    });
    checked('in SQL: one job, completed on attempt 2 by the survivor; one user and one assistant chat-log row; only the survivor counted the job and its 3 tokens, and only it was credited (3 credits; mia.credit_discrepancies() empty)');
  });
});
