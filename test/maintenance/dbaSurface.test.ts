import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import {
  claimJob,
  createBusiness,
  postResult,
  registerMiner,
  submitChat,
} from '../support/factories.ts';
import { rollUpMetrics } from '../../api/maintenance/metricsRollup.ts';
import { sql } from './support.ts';

// What docs/dba.md promises a DBA with psql: the views show queue state, the
// functions repair it, and the API (miners, waiting clients) follows.
describe('DBA views and repair functions', () => {
  // No worker: it would repair the stuck jobs these tests look at.
  const api = useTestApi({ env: { MIA_WORKER: 'off' } });

  const one = async <T>(text: string, values: unknown[] = []) =>
    (await sql<T>(api.databaseUrl, text, values))[0]!;

  it('mia.queue_summary lists every status with its count, zero included', async () => {
    await sql(api.databaseUrl, 'DELETE FROM mia.jobs');
    const business = await createBusiness(api);
    await submitChat(api, business);
    await submitChat(api, business);
    const rows = await sql<{ status: string; jobs: string; oldest_age: unknown }>(
      api.databaseUrl,
      'SELECT status, jobs, oldest_age FROM mia.queue_summary',
    );
    assert.deepEqual(
      rows.map((r) => [r.status, Number(r.jobs)]),
      [
        ['queued', 2],
        ['running', 0],
        ['completed', 0],
        ['failed', 0],
        ['cancelled', 0],
      ],
    );
    assert.notEqual(rows[0]!.oldest_age, null);
    assert.equal(rows[1]!.oldest_age, null);
  });

  it('mia.stuck_jobs shows expired leases and jobs of offline miners, and requeue_job makes them claimable', async () => {
    const business = await createBusiness(api);
    const expired = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const offline = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const a = await submitChat(api, business, { message: 'a' });
    const expiredClaim = (await claimJob(api, expired)).body;
    const b = await submitChat(api, business, { message: 'b' });
    await claimJob(api, offline);
    const c = await submitChat(api, business, { message: 'c' });
    const healthy = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    await claimJob(api, healthy);
    await sql(
      api.databaseUrl,
      `UPDATE mia.jobs SET lease_expires_at = now() - interval '5 seconds' WHERE id = $1`,
      [a.body.job_id],
    );
    await sql(api.databaseUrl, `UPDATE mia.miners SET status = 'offline' WHERE id = $1`, [
      offline.miner_id,
    ]);

    const stuck = await sql<{ job_id: string; reason: string; miner_name: string }>(
      api.databaseUrl,
      'SELECT job_id, reason, miner_name FROM mia.stuck_jobs',
    );
    assert.deepEqual(
      stuck.map((s) => [s.job_id, s.reason]).sort(),
      [
        [a.body.job_id, 'lease_expired'],
        [b.body.job_id, 'miner_offline'],
      ].sort(),
    );
    assert.equal(
      stuck.some((s) => s.job_id === c.body.job_id),
      false,
      'a healthy running job is not stuck',
    );

    assert.equal(
      (await one<{ ok: boolean }>('SELECT mia.requeue_job($1) AS ok', [a.body.job_id])).ok,
      true,
    );
    const next = await claimJob(api, healthy);
    assert.equal(next.body.job_id, a.body.job_id, 'the requeued job is claimable again');
    assert.equal(next.body.attempt, 2);
    const late = await postResult(api, expired, expiredClaim);
    assert.equal(late.status, 409, 'its former holder can no longer complete it');
  });

  it('requeue_job from psql wakes a miner that is long-polling', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const chat = await submitChat(api, business);
    await claimJob(api, miner);
    const waiting = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const poll = claimJob(api, waiting, 10);
    // Let the long-poll park first (it claims nothing: the only job is running).
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(
      (await one<{ ok: boolean }>('SELECT mia.requeue_job($1) AS ok', [chat.body.job_id])).ok,
      true,
    );
    const woken = await poll;
    assert.equal(woken.status, 200);
    assert.equal(woken.body.job_id, chat.body.job_id);
  });

  it('requeue_job gives a dead-lettered job new attempts (never reusing a number) and refuses a completed one', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const failed = await submitChat(api, business, { message: 'fails' });
    await sql(
      api.databaseUrl,
      `UPDATE mia.jobs SET status = 'failed', attempts = 3, error = 'boom', completed_at = now() WHERE id = $1`,
      [failed.body.job_id],
    );
    assert.equal(
      (await one<{ ok: boolean }>('SELECT mia.requeue_job($1) AS ok', [failed.body.job_id])).ok,
      true,
    );
    const row = await one<{ status: string; attempts: number; max_attempts: number; error: string | null }>(
      'SELECT status, attempts, max_attempts, error FROM mia.jobs WHERE id = $1',
      [failed.body.job_id],
    );
    // Attempt numbers are never reused (credits are keyed by them): its attempts come back
    // as a raised max_attempts, the configured 3 more.
    assert.deepEqual(row, { status: 'queued', attempts: 3, max_attempts: 6, error: null });

    const done = await submitChat(api, business, { message: 'done' });
    await claimJob(api, miner); // the requeued one
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.body.job_id, done.body.job_id);
    await postResult(api, miner, claimed.body);
    assert.equal(
      (await one<{ ok: boolean }>('SELECT mia.requeue_job($1) AS ok', [done.body.job_id])).ok,
      false,
    );
    assert.equal(
      (
        await one<{ status: string }>('SELECT status FROM mia.jobs WHERE id = $1', [
          done.body.job_id,
        ])
      ).status,
      'completed',
    );
  });

  it('cancel_job and fail_job finish open jobs, and their miners results are refused', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    const toCancel = await submitChat(api, business, { message: 'cancel' });
    const held = await claimJob(api, miner);
    const toFail = await submitChat(api, business, { message: 'fail' });

    assert.equal(
      (await one<{ ok: boolean }>('SELECT mia.cancel_job($1) AS ok', [toCancel.body.job_id])).ok,
      true,
    );
    assert.equal(
      (
        await one<{ ok: boolean }>(`SELECT mia.fail_job($1, 'poison prompt') AS ok`, [
          toFail.body.job_id,
        ])
      ).ok,
      true,
    );
    assert.equal(
      (await one<{ ok: boolean }>('SELECT mia.cancel_job($1) AS ok', [toCancel.body.job_id])).ok,
      false,
      'only once',
    );

    assert.equal((await postResult(api, miner, held.body)).status, 409);
    const cancelled = await api.request('GET', `/job/${toCancel.body.job_id}/result`, {
      token: business.api_key,
    });
    assert.equal(cancelled.body.status, 'cancelled');
    const failed = await api.request('GET', `/job/${toFail.body.job_id}/result`, {
      token: business.api_key,
    });
    assert.equal(failed.body.status, 'failed');
    assert.equal(failed.body.error, 'poison prompt');
  });

  it('mia.miner_summary counts running jobs per miner and mia.job_latency reports completed jobs', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    await submitChat(api, business);
    await submitChat(api, business);
    const first = await claimJob(api, miner);
    await claimJob(api, miner);
    const summary = await one<{ running_jobs: string; status: string }>(
      'SELECT running_jobs, status FROM mia.miner_summary WHERE miner_id = $1',
      [miner.miner_id],
    );
    assert.equal(Number(summary.running_jobs), 2);

    await postResult(api, miner, first.body, { tokens_generated: 9 });
    const latency = await sql<{
      completed: string;
      tokens: string;
      queued_to_claimed_p50_ms: string;
      claimed_to_completed_p99_ms: string;
    }>(api.databaseUrl, 'SELECT * FROM mia.job_latency');
    assert.ok(latency.length >= 1);
    assert.ok(latency.reduce((n, r) => n + Number(r.completed), 0) >= 1);
    assert.ok(
      latency.every(
        (r) =>
          Number(r.queued_to_claimed_p50_ms) >= 0 && Number(r.claimed_to_completed_p99_ms) >= 0,
      ),
    );
  });

  it('the metrics roll-up writes queue and miner figures into mia.system_metrics', async () => {
    await sql(api.databaseUrl, 'DELETE FROM mia.jobs');
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 16 }); // claims several jobs without finishing them
    await submitChat(api, business);
    await submitChat(api, business);
    await postResult(api, miner, (await claimJob(api, miner)).body, { tokens_generated: 11 });

    assert.ok((await rollUpMetrics(api.server.ctx.db)) > 10);
    const metrics = Object.fromEntries(
      (
        await sql<{ metric_name: string; value: number }>(
          api.databaseUrl,
          'SELECT metric_name, value FROM mia.system_metrics',
        )
      ).map((m) => [m.metric_name, m.value]),
    );
    assert.equal(metrics.jobs_queued, 1);
    assert.equal(metrics.jobs_completed, 1);
    assert.equal(metrics.jobs_running, 0);
    assert.equal(metrics.queue_depth, 1);
    assert.equal(metrics.jobs_completed_per_minute, 1);
    assert.equal(metrics.tokens_per_minute, 11);
    assert.ok(metrics.tokens_generated_total! >= 11);
    assert.ok(metrics.miners_idle! >= 1);
  });
});
