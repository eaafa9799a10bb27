import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  claimJob,
  createBusiness,
  postResult,
  registerMiner,
  submitChat,
} from '../support/factories.ts';
import { sql, startWebhookReceiver, waitFor, type WebhookReceiver } from './support.ts';

describe('maintenance worker across replicas (MIA_WORKER)', () => {
  let database: TestDatabase;
  let replica: TestApi; // MIA_WORKER=off
  let withWorker: TestApi;
  let receiver: WebhookReceiver;
  before(async () => {
    database = await createTestDatabase();
    // Short leases, given by whichever replica a miner claims through.
    // MIA_WEBHOOK_ALLOW_PRIVATE on both: the replica checks callback_url at submit.
    const shared = {
      MIA_LEASE_BASE_SECONDS: '1',
      MIA_LEASE_MS_PER_TOKEN: '0',
      MIA_WEBHOOK_ALLOW_PRIVATE: 'true',
    };
    replica = await startTestApi({ database, env: { ...shared, MIA_WORKER: 'off' } });
    withWorker = await startTestApi({
      database,
      env: { ...shared, MIA_REAP_INTERVAL_MS: '200' },
    });
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    await replica.close();
    await withWorker.close();
    await receiver.close();
    await database.drop();
  });

  it('reports worker off in GET /health on a replica started with MIA_WORKER=off', async () => {
    const health = await replica.request('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.worker, 'off');
    assert.equal((await withWorker.request('GET', '/health')).body.worker, 'running');
  });

  it('a job finished through a replica without a worker gets its webhook from the other replica', async () => {
    const business = await createBusiness(replica);
    const miner = await registerMiner(replica);
    const chat = await submitChat(replica, business, { callback_url: receiver.url });
    assert.equal(chat.status, 202, chat.text);
    await postResult(replica, miner, (await claimJob(replica, miner)).body, {
      output: 'done via the replica',
    });
    const hook = await waitFor('the webhook', async () =>
      receiver.received.find((h) => h.body.includes(chat.body.job_id)),
    );
    assert.equal(JSON.parse(hook.body).response, 'done via the replica');
  });

  it('a job whose miner vanished on a replica without a worker is requeued by the worker of the other', async () => {
    const business = await createBusiness(replica);
    const vanished = await registerMiner(replica);
    const chat = await submitChat(replica, business);
    await claimJob(replica, vanished); // its 1 s lease is never renewed
    const survivor = await registerMiner(replica);
    const again = await claimJob(replica, survivor, 8);
    assert.equal(again.status, 200);
    assert.equal(again.body.job_id, chat.body.job_id);
    const [row] = await sql<{ attempts: number }>(
      database.url,
      'SELECT attempts FROM mia.jobs WHERE id = $1',
      [chat.body.job_id],
    );
    assert.equal(row!.attempts, 2);
  });
});
