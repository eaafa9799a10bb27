import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { emptyQueue } from '../support/database.ts';
import {
  claimJob,
  createBusiness,
  postResult,
  registerMiner,
  submitChat,
} from '../support/factories.ts';
import { purgeFinishedJobs } from '../../api/maintenance/jobCleaner.ts';
import { sql } from './support.ts';

describe('purge of finished jobs', () => {
  const api = useTestApi({ env: { MIA_WORKER: 'off' } }, { emptyQueueBeforeEach: false });
  beforeEach(async () => {
    await emptyQueue(api.databaseUrl);
    // Earlier tests' jobs would be purged too and skew the counts.
    await sql(api.databaseUrl, 'DELETE FROM mia.jobs');
  });

  const age = (jobIds: string[], days: number) =>
    sql(
      api.databaseUrl,
      `UPDATE mia.jobs SET completed_at = now() - make_interval(days => $2), created_at = now() - make_interval(days => $2) WHERE id = ANY ($1::uuid[])`,
      [jobIds, days],
    );
  const remaining = async (jobIds: string[]) =>
    (
      await sql<{ id: string }>(
        api.databaseUrl,
        'SELECT id FROM mia.jobs WHERE id = ANY ($1::uuid[]) ORDER BY id',
        [jobIds],
      )
    ).map((r) => r.id);

  it('deletes finished jobs past the retention in batches and keeps recent and open ones', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const old: string[] = [];
    for (let i = 0; i < 5; i++) {
      const chat = await submitChat(api, business, { message: `old ${i}` });
      await postResult(api, miner, (await claimJob(api, miner)).body);
      old.push(chat.body.job_id);
    }
    const cancelled = await submitChat(api, business, { message: 'cancelled long ago' });
    await api.request('DELETE', `/job/${cancelled.body.job_id}`, { token: business.api_key });
    old.push(cancelled.body.job_id);
    await age(old, 10);

    const recent = await submitChat(api, business, { message: 'recent' });
    await postResult(api, miner, (await claimJob(api, miner)).body);
    const queued = await submitChat(api, business, { message: 'still waiting' });
    await age([queued.body.job_id], 10);

    const result = await purgeFinishedJobs(api.server.ctx.db, {
      retentionHours: 24 * 7,
      batchSize: 2,
      maxBatches: 100,
    });
    assert.deepEqual(result, { deleted: 6 });
    assert.deepEqual(await remaining(old), []);
    assert.deepEqual(
      (await remaining([recent.body.job_id, queued.body.job_id])).sort(),
      [recent.body.job_id, queued.body.job_id].sort(),
    );
  });

  it('keeps the chat logs of purged jobs, so the session history still reaches the model', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const first = await submitChat(api, business, {
      message: 'Do you ship to Norway?',
      session_id: 'kept-history',
    });
    await postResult(api, miner, (await claimJob(api, miner)).body, { output: 'Yes, in 3 days.' });
    await age([first.body.job_id], 30);

    assert.deepEqual(
      await purgeFinishedJobs(api.server.ctx.db, {
        retentionHours: 24,
        batchSize: 100,
        maxBatches: 1,
      }),
      { deleted: 1 },
    );
    assert.deepEqual(await remaining([first.body.job_id]), []);
    const logs = await sql<{ role: string }>(
      api.databaseUrl,
      'SELECT role FROM mia.chat_logs WHERE job_id = $1 ORDER BY role',
      [first.body.job_id],
    );
    assert.deepEqual(
      logs.map((l) => l.role),
      ['assistant', 'user'],
    );

    await submitChat(api, business, { message: 'And to Sweden?', session_id: 'kept-history' });
    const next = await claimJob(api, miner);
    const contents = (next.body.messages as { content: string }[]).map((m) => m.content);
    assert.ok(contents.includes('Do you ship to Norway?'));
    assert.ok(contents.includes('Yes, in 3 days.'));
  });

  it('stops after maxBatches and leaves the rest for the next run', async () => {
    const business = await createBusiness(api);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const chat = await submitChat(api, business, { message: `cancel me ${i}` });
      await api.request('DELETE', `/job/${chat.body.job_id}`, { token: business.api_key });
      ids.push(chat.body.job_id);
    }
    await age(ids, 10);
    assert.deepEqual(
      await purgeFinishedJobs(api.server.ctx.db, {
        retentionHours: 1,
        batchSize: 1,
        maxBatches: 3,
      }),
      { deleted: 3 },
    );
    assert.deepEqual(
      await purgeFinishedJobs(api.server.ctx.db, {
        retentionHours: 1,
        batchSize: 1,
        maxBatches: 3,
      }),
      { deleted: 1 },
    );
  });
});
