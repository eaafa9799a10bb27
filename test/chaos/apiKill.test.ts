import assert from 'node:assert/strict';
import { startApiProcess, type ApiProcess } from '../support/apiProcess.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { checked, client, createBusiness, freePort, injected, registerMiner, sleep, spawnSimulatedMiner, until, type SimulatedMiner } from './chaosKit.ts';

const clients = 4;
const chatsPerClient = 40;
const killAfterAcks = 50;
// Each chat is retried (same Idempotency-Key) at most this often, 50 ms apart: ~15 s, longer than a restart.
const maxAttemptsPerChat = 300;

describe('chaos: the API process killed with SIGKILL while clients submit chats', function () {
  this.timeout(90_000);
  let database: TestDatabase;
  let api: ApiProcess;
  const miners: SimulatedMiner[] = [];

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await Promise.all(miners.map((m) => m.stop()));
    await api?.stop();
    await database?.drop();
  });

  it('keeps every acknowledged job, creates none twice, and completes all of them after a restart', async () => {
    // Same port before and after the restart, as behind a load balancer.
    const port = await freePort();
    const env = {
      PORT: String(port),
      MIA_RATE_LIMIT_CHAT_PER_SECOND: '0',
      // A claim whose answer died with the process comes back soon.
      MIA_LEASE_BASE_SECONDS: '3',
      MIA_LEASE_MS_PER_TOKEN: '0',
      MIA_REAP_INTERVAL_MS: '200',
    };
    api = await startApiProcess(database.url, env);
    const http = client(api.url);
    const business = await createBusiness(http);
    for (const name of ['worker-a', 'worker-b']) miners.push(spawnSimulatedMiner(api.url, await registerMiner(http, name), 'work'));

    const acked = new Map<string, string>(); // Idempotency-Key -> job id of the 2xx
    const retried = new Set<string>();
    let killedAt = new Date(8.64e15);
    let restart: Promise<void> | undefined;
    const killAndRestart = async () => {
      const pid = api.child.pid;
      const ackedBefore = acked.size;
      killedAt = new Date();
      api.child.kill('SIGKILL');
      await api.exited;
      injected(`kill -9 of API process ${pid} after ${ackedBefore} chats were acknowledged, with ${clients} clients still sending`);
      api = await startApiProcess(database.url, env);
      injected(`API restarted as process ${api.child.pid} on the same port`);
    };

    async function clientLoop(c: number): Promise<void> {
      for (let n = 0; n < chatsPerClient; n++) {
        const key = `client-${c}-chat-${n}`;
        let failures = 0;
        for (let attempt = 1; ; attempt++) {
          assert.ok(attempt <= maxAttemptsPerChat, `${key}: no acknowledgement after ${maxAttemptsPerChat} attempts`);
          let status: number;
          let jobId: string | undefined;
          try {
            const res = await http.request('POST', '/chat', {
              token: business.api_key,
              body: { message: key, session_id: key, wait: 0 },
              headers: { 'Idempotency-Key': key },
            });
            status = res.status;
            jobId = res.body?.job_id as string | undefined;
          } catch (error) {
            if (!(error instanceof TypeError)) throw error; // fetch's "network error"
            failures += 1;
            await sleep(50);
            continue;
          }
          if (status === 202 || status === 200) {
            assert.ok(jobId);
            acked.set(key, jobId);
            if (failures > 0) retried.add(key);
            if (acked.size === killAfterAcks) restart = killAndRestart();
            break;
          }
          assert.equal(status, 503, `${key}: only 503 may ask for a retry, got ${status}`);
          await sleep(50);
        }
      }
    }

    await Promise.all(Array.from({ length: clients }, (_, c) => clientLoop(c)));
    await restart;
    assert.equal(acked.size, clients * chatsPerClient);
    checked(`all ${acked.size} chats acknowledged; ${retried.size} were retried with their Idempotency-Key across the crash`);

    const pending = await until('every job completed by the simulated miners', () =>
      withClient(database.url, async (db) => {
        const open = await db.query(`SELECT count(*)::int AS n FROM mia.jobs WHERE status <> 'completed'`);
        return open.rows[0].n === 0 ? true : undefined;
      }), 45_000, 200);
    assert.equal(pending, true);

    await withClient(database.url, async (db) => {
      const jobs = await db.query<{ id: string; idempotency_key: string | null; status: string; created_at: Date }>(
        `SELECT id, idempotency_key, status, created_at FROM mia.jobs`,
      );
      assert.equal(jobs.rows.length, acked.size, 'exactly one job per chat: none lost, none duplicated');
      const byKey = new Map(jobs.rows.map((j) => [j.idempotency_key, j] as const));
      for (const [key, jobId] of acked) {
        assert.equal(byKey.get(key)?.id, jobId, `${key}: the acknowledged job is the stored one`);
        assert.equal(byKey.get(key)?.status, 'completed');
      }
      // A retry whose first attempt was stored before the crash got that job back.
      const deduplicated = [...retried].filter((key) => (byKey.get(key)?.created_at ?? killedAt) < killedAt).length;
      checked(`${deduplicated} of the ${retried.size} retried chats had been stored before the crash and were answered with the stored job`);
      const logs = await db.query(`
        SELECT count(*) FILTER (WHERE role = 'user')::int AS users,
               count(*) FILTER (WHERE role = 'assistant')::int AS assistants,
               count(DISTINCT job_id)::int AS jobs
        FROM mia.chat_logs`);
      assert.deepEqual(logs.rows[0], { users: acked.size, assistants: acked.size, jobs: acked.size });
      const counted = await db.query(`SELECT sum(job_count)::int AS n FROM mia.miners`);
      assert.equal(counted.rows[0].n, acked.size, 'each job was counted to a miner exactly once');
      const off = await db.query(`SELECT * FROM mia.credit_discrepancies()`);
      assert.deepEqual(off.rows, [], 'every completed job credited exactly tokens × rate, once');
    });
    checked(`in SQL: ${acked.size} jobs, one per Idempotency-Key, each the acknowledged id and completed; one user and one assistant chat-log row each; miners counted ${acked.size} jobs; the credit ledger has no discrepancy`);
  });
});
