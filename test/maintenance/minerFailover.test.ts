import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import {
  claimJob,
  createBusiness,
  postResult,
  registerMiner,
  submitChat,
} from '../support/factories.ts';
import { sql, waitFor } from './support.ts';

// The maintenance worker really runs here, with 1 s leases and a 200 ms reap interval.
const leaseSeconds = 1;
const reapIntervalMs = 200;

describe('failover of a job whose miner vanished (maintenance worker running)', () => {
  const api = useTestApi({
      env: {
        MIA_LEASE_BASE_SECONDS: String(leaseSeconds),
        MIA_LEASE_MS_PER_TOKEN: '0',
        MIA_REAP_INTERVAL_MS: String(reapIntervalMs),
        MIA_MINER_CHECK_INTERVAL_MS: '200',
        // Above one lease + reap interval: the surviving miner of the first test
        // long-polls that long (its last_active is refreshed per request, not while
        // parked) and must not be marked offline while it waits for the requeue.
        MIA_MINER_OFFLINE_AFTER_SECONDS: '3',
      },
    });

  it('reports the worker as running in GET /health', async () => {
    const health = await api.request('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.worker, 'running');
  });

  it('hands the job of a miner that stops heartbeating to a long-polling miner within lease + reap interval', async () => {
    const business = await createBusiness(api);
    const vanished = await registerMiner(api);
    const chat = await submitChat(api, business, { message: 'My order never arrived.' });
    const first = await claimJob(api, vanished);
    assert.equal(first.status, 200);
    assert.equal(first.body.job_id, chat.body.job_id);
    // The miner dies here: no heartbeat, no result.

    // One long-poll whose wait is a few times lease + interval: the reaper must requeue
    // the job and its NOTIFY must wake this parked miner well within it.
    const survivor = await registerMiner(api);
    const wait = Math.ceil(leaseSeconds + reapIntervalMs / 1000) * 4;
    const second = await claimJob(api, survivor, wait);
    assert.equal(second.status, 200, 'the survivor got the job within one long-poll');
    assert.equal(second.body.job_id, chat.body.job_id);
    assert.equal(second.body.attempt, 2);

    const done = await postResult(api, survivor, second.body, { output: 'It is on its way.' });
    assert.equal(done.status, 200);
    const late = await postResult(api, vanished, first.body, { output: 'stale answer' });
    assert.equal(late.status, 409);

    const outcome = await api.request('GET', `/job/${chat.body.job_id}/result`, {
      token: business.api_key,
    });
    assert.equal(outcome.body.response, 'It is on its way.');
    const logs = await sql<{ n: number }>(
      api.databaseUrl,
      `SELECT count(*)::int AS n FROM mia.chat_logs WHERE job_id = $1 AND role = 'assistant'`,
      [chat.body.job_id],
    );
    assert.equal(logs[0]!.n, 1, 'exactly one answer is stored');
  });

  it('keeps a job with its miner while the miner heartbeats past the first lease', async () => {
    const business = await createBusiness(api);
    const worker = await registerMiner(api);
    const chat = await submitChat(api, business);
    const claimed = await claimJob(api, worker);
    const firstExpiry = Date.parse(claimed.body.lease_expires_at as string);

    // Heartbeat until the lease has been extended well past its first expiry.
    await waitFor('the lease to outlive its first expiry', async () => {
      const beat = await api.request('POST', `/miner/${worker.miner_id}/status`, {
        token: worker.auth_key,
        body: { status: 'busy', running: [claimed.body.lease_token] },
      });
      assert.equal(beat.status, 200);
      const [row] = await sql<{ now_ms: number }>(
        api.databaseUrl,
        'SELECT extract(epoch FROM now()) * 1000 AS now_ms',
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      return Number(row!.now_ms) > firstExpiry + 2 * reapIntervalMs;
    });

    const [row] = await sql<{ status: string; miner_id: string }>(
      api.databaseUrl,
      'SELECT status, miner_id FROM mia.jobs WHERE id = $1',
      [chat.body.job_id],
    );
    assert.equal(row!.status, 'running');
    assert.equal(row!.miner_id, worker.miner_id);
    const done = await postResult(api, worker, claimed.body);
    assert.equal(done.status, 200);
  });

  it('marks a silent miner offline and requeues its job before the lease would run out', async () => {
    const business = await createBusiness(api);
    const silent = await registerMiner(api);
    const chat = await submitChat(api, business, { max_tokens: 100 });
    await claimJob(api, silent);
    // A long lease, so only the offline marking can take the job back.
    await sql(
      api.databaseUrl,
      `UPDATE mia.jobs SET lease_expires_at = now() + interval '1 hour' WHERE id = $1`,
      [chat.body.job_id],
    );

    await waitFor('the job to be requeued', async () => {
      const [row] = await sql<{ status: string }>(
        api.databaseUrl,
        'SELECT status FROM mia.jobs WHERE id = $1',
        [chat.body.job_id],
      );
      return row!.status === 'queued';
    });
    const miners = await api.request('GET', '/miners', { token: api.adminToken });
    const row = miners.body.miners.find(
      (m: { miner_id: string }) => m.miner_id === silent.miner_id,
    );
    assert.equal(row.status, 'offline');
  });
});
