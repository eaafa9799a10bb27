import assert from 'node:assert/strict';
import pg from 'pg';
import { useTestApi } from '../support/apiServer.ts';
import {
  claimJob,
  createBusiness,
  postResult,
  registerMiner,
  submitChat,
} from '../support/factories.ts';
import { reapExpiredLeases } from '../../api/maintenance/leaseReaper.ts';
import { sql } from './support.ts';

describe('lease reaper', () => {
  // The reaper is called directly here; the worker would race the assertions.
  const api = useTestApi({ env: { MIA_WORKER: 'off' } });

  const expireLease = (jobId: string) =>
    sql(
      api.databaseUrl,
      `UPDATE mia.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`,
      [jobId],
    );
  const jobRow = async (jobId: string) =>
    (
      await sql<{
        status: string;
        attempts: number;
        miner_id: string | null;
        lease_token: string | null;
        error: string | null;
      }>(
        api.databaseUrl,
        'SELECT status, attempts, miner_id, lease_token, error FROM mia.jobs WHERE id = $1',
        [jobId],
      )
    )[0]!;

  it('puts a running job whose lease expired back in the queue with its attempt counted', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const chat = await submitChat(api, business);
    const claimed = await claimJob(api, miner);
    await expireLease(chat.body.job_id);

    assert.deepEqual(await reapExpiredLeases(api.server.ctx.db), { requeued: 1, dead_lettered: 0 });
    const row = await jobRow(chat.body.job_id);
    assert.equal(row.status, 'queued');
    assert.equal(row.attempts, 1);
    assert.equal(row.miner_id, null);
    assert.equal(row.lease_token, null);

    const late = await postResult(api, miner, claimed.body);
    assert.equal(late.status, 409, 'the miner that lost its lease cannot complete the job');
    assert.equal(late.body.error.code, 'lease_lost');

    const other = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const again = await claimJob(api, other);
    assert.equal(again.body.job_id, chat.body.job_id);
    assert.equal(again.body.attempt, 2);
  });

  it('moves a job whose expired lease was its last attempt to failed with a reason', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const chat = await submitChat(api, business);
    await claimJob(api, miner);
    await sql(api.databaseUrl, 'UPDATE mia.jobs SET attempts = max_attempts WHERE id = $1', [
      chat.body.job_id,
    ]);
    await expireLease(chat.body.job_id);

    assert.deepEqual(await reapExpiredLeases(api.server.ctx.db), { requeued: 0, dead_lettered: 1 });
    const row = await jobRow(chat.body.job_id);
    assert.equal(row.status, 'failed');
    assert.match(row.error ?? '', /^attempt 3 of 3: lease expired/);
    assert.equal(row.miner_id, miner.miner_id, 'the last holder is kept for the post-mortem');

    const outcome = await api.request('GET', `/job/${chat.body.job_id}/result`, {
      token: business.api_key,
    });
    assert.equal(outcome.body.status, 'failed');
    assert.match(outcome.body.error, /lease expired/);
  });

  it('leaves running jobs with a live lease alone', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const chat = await submitChat(api, business);
    await claimJob(api, miner);
    assert.deepEqual(await reapExpiredLeases(api.server.ctx.db), { requeued: 0, dead_lettered: 0 });
    assert.equal((await jobRow(chat.body.job_id)).status, 'running');
  });

  it('takes back expired jobs in several batches in one run', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    for (let i = 0; i < 5; i++) await submitChat(api, business, { message: `question ${i}` });
    const claimed = await api.request('GET', `/jobs/next?miner_id=${miner.miner_id}&max_jobs=5`, {
      token: miner.auth_key,
    });
    assert.equal(claimed.body.jobs.length, 5);
    await sql(
      api.databaseUrl,
      `UPDATE mia.jobs SET lease_expires_at = now() - interval '1 second' WHERE status = 'running'`,
    );
    assert.deepEqual(await reapExpiredLeases(api.server.ctx.db, { batchSize: 2, maxBatches: 10 }), {
      requeued: 5,
      dead_lettered: 0,
    });
  });

  it('skips a job another transaction holds locked instead of waiting for it', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const chat = await submitChat(api, business);
    await claimJob(api, miner);
    await expireLease(chat.body.job_id);

    const holder = new pg.Client({ connectionString: api.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM mia.jobs WHERE id = $1 FOR UPDATE', [chat.body.job_id]);
      // Were the reaper to wait for the lock, this would hang until the test times out.
      assert.deepEqual(await reapExpiredLeases(api.server.ctx.db), {
        requeued: 0,
        dead_lettered: 0,
      });
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    assert.deepEqual(await reapExpiredLeases(api.server.ctx.db), { requeued: 1, dead_lettered: 0 });
  });
});
