import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, registerMiner, submitChat } from '../support/factories.ts';
import { markSilentMinersOffline } from '../../api/maintenance/minerOfflineMarker.ts';
import { sql } from './support.ts';

describe('offline marking of silent miners', () => {
  const api = useTestApi({ env: { MIA_WORKER: 'off' } });

  const silence = (minerId: string, seconds: number) =>
    sql(
      api.databaseUrl,
      `UPDATE mia.miners SET last_active = now() - make_interval(secs => $2) WHERE id = $1`,
      [minerId, seconds],
    );
  const minerStatus = async (minerId: string) =>
    (
      await sql<{ status: string }>(
        api.databaseUrl,
        'SELECT status FROM mia.miners WHERE id = $1',
        [minerId],
      )
    )[0]!.status;

  it('marks a miner silent for longer than the limit offline and requeues its running job', async () => {
    const business = await createBusiness(api);
    const silent = await registerMiner(api);
    const chat = await submitChat(api, business);
    await claimJob(api, silent);
    await silence(silent.miner_id, 300);

    const result = await markSilentMinersOffline(api.server.ctx.db, { offlineAfterSeconds: 120 });
    assert.equal(result.jobs_released, 1);
    assert.ok(result.miners_marked >= 1);
    assert.equal(await minerStatus(silent.miner_id), 'offline');
    const [job] = await sql<{ status: string; attempts: number; miner_id: string | null }>(
      api.databaseUrl,
      'SELECT status, attempts, miner_id FROM mia.jobs WHERE id = $1',
      [chat.body.job_id],
    );
    assert.deepEqual(job, { status: 'queued', attempts: 1, miner_id: null });

    const other = await registerMiner(api);
    const again = await claimJob(api, other);
    assert.equal(again.body.job_id, chat.body.job_id);
  });

  it('dead-letters the job of a silent miner when that was its last attempt', async () => {
    const business = await createBusiness(api);
    const silent = await registerMiner(api);
    const chat = await submitChat(api, business);
    await claimJob(api, silent);
    await sql(api.databaseUrl, 'UPDATE mia.jobs SET attempts = max_attempts WHERE id = $1', [
      chat.body.job_id,
    ]);
    await silence(silent.miner_id, 300);

    await markSilentMinersOffline(api.server.ctx.db, { offlineAfterSeconds: 120 });
    const [job] = await sql<{ status: string; error: string }>(
      api.databaseUrl,
      'SELECT status, error FROM mia.jobs WHERE id = $1',
      [chat.body.job_id],
    );
    assert.equal(job!.status, 'failed');
    assert.match(job!.error, /miner went silent/);
  });

  it('leaves miners heard from within the limit alone', async () => {
    const business = await createBusiness(api);
    const active = await registerMiner(api);
    await submitChat(api, business);
    await claimJob(api, active);
    await silence(active.miner_id, 30);
    const result = await markSilentMinersOffline(api.server.ctx.db, { offlineAfterSeconds: 120 });
    assert.equal(result.jobs_released, 0);
    assert.equal(await minerStatus(active.miner_id), 'idle');
  });

  it('counts a miner marked offline as back once it long-polls again', async () => {
    const returning = await registerMiner(api);
    await silence(returning.miner_id, 300);
    await markSilentMinersOffline(api.server.ctx.db, { offlineAfterSeconds: 120 });
    assert.equal(await minerStatus(returning.miner_id), 'offline');
    const poll = await claimJob(api, returning);
    assert.equal(poll.status, 204);
    // The touch that records the poll is not awaited by the request.
    for (let i = 0; i < 100 && (await minerStatus(returning.miner_id)) === 'offline'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await minerStatus(returning.miner_id), 'idle');
  });
});
