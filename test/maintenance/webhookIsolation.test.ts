import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { useTestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat } from '../support/factories.ts';
import { sql, waitFor } from './support.ts';

// Migration 0006: deliveries run in 4 serial queues, so receivers that hang can
// hold at most 4 of the worker's slots and the lease reaper still runs.
describe('webhook deliveries and the lease reaper', () => {
  const api = useTestApi({
    env: {
      MIA_WEBHOOK_ALLOW_PRIVATE: 'true',
      MIA_WEBHOOK_TIMEOUT_MS: '20000',
      MIA_WORKER_CONCURRENCY: '5',
      MIA_LEASE_BASE_SECONDS: '1',
      MIA_LEASE_MS_PER_TOKEN: '0',
      MIA_REAP_INTERVAL_MS: '200',
    },
  });
  const sockets = new Set<Socket>();
  let hanging: http.Server;
  let hits = 0;
  before(async () => {
    // A receiver that accepts every delivery and never answers.
    hanging = http.createServer(() => {
      hits += 1;
    });
    hanging.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => hanging.close(() => resolve()));
  });

  it('reaps an expired lease while more hung deliveries are pending than the worker has slots', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const callback_url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`;
    for (let i = 0; i < 12; i++) {
      await submitChat(api, business, { message: `order ${i}`, callback_url });
      const job = await claimJob(api, miner);
      assert.equal((await postResult(api, miner, job.body)).status, 200);
    }
    // Jobs are spread over the 4 queues by a hash of their id: one delivery per
    // queue that got any runs (and hangs); the others wait behind it.
    const [{ queues }] = (await sql<{ queues: number }>(
      api.databaseUrl,
      `SELECT count(DISTINCT abs(hashtext(id::text)) % 4)::int AS queues FROM mia.jobs WHERE callback_url IS NOT NULL`,
    )) as [{ queues: number }];
    await waitFor('deliveries to hang in the receiver', async () => hits >= queues);

    // A miner dies holding a job: its 1 s lease must be reaped although 12 deliveries wait
    // (without the queues, 5 hung deliveries would fill every one of the 5 slots).
    const chat = await submitChat(api, business, { message: 'stuck' });
    const abandoned = await claimJob(api, miner);
    assert.equal(abandoned.body.job_id, chat.body.job_id);
    await waitFor('the expired lease to be reaped', async () => {
      const [row] = await sql<{ status: string }>(api.databaseUrl, 'SELECT status FROM mia.jobs WHERE id = $1', [chat.body.job_id]);
      return row!.status === 'queued';
    }, 5000);
    assert.equal(hits, queues, 'one delivery per queue at a time, 4 at most');
  });
});
