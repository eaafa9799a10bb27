import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import {
  claimJob,
  createBusiness,
  postResult,
  registerMiner,
  submitChat,
  type TestBusiness,
  type TestMiner,
} from '../support/factories.ts';
import { sql, startWebhookReceiver, waitFor, type WebhookReceiver } from './support.ts';

/** A receiver that accepts every delivery and never answers (until closed). */
async function startHangingReceiver() {
  const sockets = new Set<Socket>();
  let hits = 0;
  const server = http.createServer(() => {
    hits += 1;
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits: () => hits,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function finishWithCallback(
  api: TestApi,
  business: TestBusiness,
  miner: TestMiner,
  callback_url: string,
): Promise<string> {
  const chat = await submitChat(api, business, { callback_url });
  assert.equal(chat.status, 202, chat.text);
  const job = await claimJob(api, miner);
  assert.equal(job.body.job_id, chat.body.job_id);
  assert.equal((await postResult(api, miner, job.body)).status, 200);
  return chat.body.job_id;
}

const deliveriesOf = async (api: TestApi, businessId: string) =>
  sql<{ status: string; attempts: number }>(
    api.databaseUrl,
    `SELECT d.status, d.attempts FROM mia.webhook_deliveries AS d
     JOIN mia.jobs AS j ON j.id = d.job_id WHERE j.business_id = $1`,
    [businessId],
  );

// Migration 0008 gives each business two serial delivery queues, and
// startMaintenance runs deliveries in a worker of their own: a business's dead
// receiver holds at most two delivery slots, and no number of them holds the
// lease reaper's.
describe('webhook deliveries of one business and everything else', () => {
  describe('another business', () => {
    const api = useTestApi({
      env: {
        MIA_WEBHOOK_ALLOW_PRIVATE: 'true',
        // Far longer than the test: a hung delivery stays hung throughout.
        MIA_WEBHOOK_TIMEOUT_MS: '120000',
        MIA_WEBHOOK_CONCURRENCY: '4',
      },
    });
    let hanging: Awaited<ReturnType<typeof startHangingReceiver>>;
    let receiver: WebhookReceiver;
    before(async () => {
      hanging = await startHangingReceiver();
      receiver = await startWebhookReceiver();
    });
    after(async () => {
      await hanging.close();
      await receiver.close();
    });

    it("delivers business B's webhook while 16 of business A's hang in a dead receiver", async () => {
      const a = await createBusiness(api);
      const b = await createBusiness(api);
      const miner = await registerMiner(api);
      for (let i = 0; i < 16; i++) await finishWithCallback(api, a, miner, hanging.url);
      // A's two queues each run one delivery, which hangs; A's other 14 wait behind them.
      await waitFor('two of A’s deliveries to hang', async () => hanging.hits() >= 2);

      const jobB = await finishWithCallback(api, b, miner, receiver.url);
      await waitFor(
        'B’s webhook',
        async () => receiver.received.find((h) => h.body.includes(jobB)),
        15_000,
      );
      // B got through while every one of A's deliveries was still unanswered.
      assert.equal(hanging.hits(), 2, 'A holds two delivery slots, not more');
      const ofA = await deliveriesOf(api, a.id);
      assert.equal(ofA.length, 16);
      assert.ok(
        ofA.every((d) => d.status === 'pending' && d.attempts === 0),
        JSON.stringify(ofA),
      );
    });
  });

  describe('the lease reaper', () => {
    const api = useTestApi({
      env: {
        MIA_WEBHOOK_ALLOW_PRIVATE: 'true',
        MIA_WEBHOOK_TIMEOUT_MS: '120000',
        MIA_WEBHOOK_CONCURRENCY: '3',
        // One slot for all maintenance: the hung deliveries must never get it.
        MIA_WORKER_CONCURRENCY: '1',
        MIA_LEASE_BASE_SECONDS: '1',
        MIA_LEASE_MS_PER_TOKEN: '0',
        MIA_REAP_INTERVAL_MS: '200',
      },
    });
    let hanging: Awaited<ReturnType<typeof startHangingReceiver>>;
    before(async () => {
      hanging = await startHangingReceiver();
    });
    after(async () => {
      await hanging.close();
    });

    it('reaps an expired lease while hung deliveries of many businesses fill every delivery slot', async () => {
      const miner = await registerMiner(api);
      // 4 businesses × 2 queues = 8 deliveries that could run, for 3 slots.
      for (let b = 0; b < 4; b++) {
        const business = await createBusiness(api);
        for (let i = 0; i < 3; i++) await finishWithCallback(api, business, miner, hanging.url);
      }
      await waitFor('the delivery slots to fill', async () => hanging.hits() >= 3);

      // A miner dies holding a job: its 1 s lease must be reaped although 12 deliveries wait.
      const business = await createBusiness(api);
      const chat = await submitChat(api, business, { message: 'stuck' });
      const abandoned = await claimJob(api, miner);
      assert.equal(abandoned.body.job_id, chat.body.job_id);
      await waitFor(
        'the expired lease to be reaped',
        async () => {
          const [row] = await sql<{ status: string }>(
            api.databaseUrl,
            'SELECT status FROM mia.jobs WHERE id = $1',
            [chat.body.job_id],
          );
          return row!.status === 'queued';
        },
        10_000,
      );
      assert.equal(hanging.hits(), 3, 'deliveries run in their 3 slots, never more');
    });
  });
});
