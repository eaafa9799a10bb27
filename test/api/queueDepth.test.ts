// The queue's guarantees under concurrency and repair (issue 17): slots hold across
// overlapping claims, an operator requeue never reuses an attempt number, a result after
// its lease ran out is refused, deltas never outlive their job, and fair spacing holds
// when one business submits in parallel.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat } from '../support/factories.ts';
import { reapExpiredLeases } from '../../api/maintenance/leaseReaper.ts';

// Deadline run as the maintenance task runs it (sql/job_expire_unclaimed.sql).
const expireUnclaimed = readFileSync(new URL('../../sql/job_expire_unclaimed.sql', import.meta.url), 'utf8')
  .replace(/:batch_size/g, '100');

describe('the queue at depth: concurrency and repair', function () {
  this.timeout(60_000);
  // A spacing far above how long the submits take: the order of claims then follows
  // from the fair_at places alone, never from how fast this machine submits.
  // A backoff long enough to be seen (the test default is 0).
  const api = useTestApi({ env: { MIA_FAIR_SPACING_MS: '600000', MIA_RETRY_BACKOFF_SECONDS: '30' } });

  async function jobRow(id: string) {
    return withClient(api.databaseUrl, async (c) => (await c.query<{
      status: string; attempts: number; max_attempts: number; queue_deadline: Date | null; error: string | null;
    }>(`SELECT status, attempts, max_attempts, queue_deadline, error FROM mia.jobs WHERE id = $1`, [id])).rows[0]!);
  }

  it('gives a slots=1 miner one job however many claims of it overlap', async () => {
    const business = await createBusiness(api);
    for (let i = 0; i < 10; i++) await submitChat(api, business, { message: `job ${i}` });
    for (let round = 0; round < 5; round++) {
      const miner = await registerMiner(api, { slots: 1 });
      const answers = await Promise.all(Array.from({ length: 8 }, () => claimJob(api, miner)));
      assert.equal(answers.filter((a) => a.status === 200).length, 1, answers.map((a) => a.status).join(','));
      const running = await withClient(api.databaseUrl, async (c) => (await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM mia.jobs WHERE miner_id = $1 AND status = 'running'`, [miner.miner_id])).rows[0]!.n);
      assert.equal(running, 1, `round ${round}: the miner runs one job`);
    }
  });

  it('requeue gives the next miner a new attempt number (its credit is kept) and a fresh queue deadline', async () => {
    const business = await createBusiness(api);
    const [first, second] = [await registerMiner(api), await registerMiner(api)];
    const jobId = (await submitChat(api, business, { message: 'cancel me, then requeue me' })).body.job_id as string;
    const claim = await claimJob(api, first);
    assert.equal(claim.body.job_id, jobId);
    // Cancelled while running: the first miner's result is refused, its work credited on attempt 1.
    assert.equal((await api.request('DELETE', `/job/${jobId}`, { token: business.api_key })).status, 200);
    await postResult(api, first, claim.body);
    // The queue deadline passed long ago.
    await withClient(api.databaseUrl, (c) => c.query(
      `UPDATE mia.jobs SET created_at = now() - interval '20 s', queue_deadline = now() - interval '10 s' WHERE id = $1`, [jobId]));

    const requeued = await api.request('POST', `/job/${jobId}/requeue`, { token: api.adminToken });
    assert.equal(requeued.status, 200, requeued.text);
    await withClient(api.databaseUrl, (c) => c.query(expireUnclaimed));
    const afterDeadlineRun = await jobRow(jobId);
    assert.equal(afterDeadlineRun.status, 'queued', 'the deadline run does not fail the requeued job');
    assert.ok(afterDeadlineRun.queue_deadline! > new Date(Date.now() - 1000), 'a fresh deadline');

    const again = await claimJob(api, second);
    assert.equal(again.body.job_id, jobId);
    assert.equal(again.body.attempt ?? (await jobRow(jobId)).attempts, 2, 'attempt numbers are never reused');
    assert.equal((await postResult(api, second, again.body)).status, 200);
    const credits = await withClient(api.databaseUrl, async (c) => (await c.query<{ miner_id: string; attempt: number }>(
      `SELECT miner_id, attempt FROM mia.miner_credits WHERE job_id = $1 AND kind = 'job' ORDER BY attempt`, [jobId])).rows);
    assert.deepEqual(credits.map((r) => r.miner_id), [first.miner_id, second.miner_id], 'both miners are credited');
  });

  it('refuses a result or a failure report that comes after its lease expired (409 lease_lost)', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 1 });
    await submitChat(api, business, { message: 'too slow' });
    const claim = await claimJob(api, miner);
    await withClient(api.databaseUrl, (c) => c.query(
      `UPDATE mia.jobs SET lease_expires_at = now() - interval '1 s' WHERE id = $1`, [claim.body.job_id]));

    const late = await postResult(api, miner, claim.body);
    assert.equal(late.status, 409, late.text);
    assert.equal(late.body.error.code, 'lease_lost');
    const lateFailure = await postResult(api, miner, claim.body, { success: false, error: 'gave up' });
    assert.equal(lateFailure.status, 409, lateFailure.text);
    const row = await jobRow(claim.body.job_id);
    assert.equal(row.status, 'running', 'left for the reaper');
    const credited = await withClient(api.databaseUrl, async (c) => (await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM mia.miner_credits WHERE job_id = $1`, [claim.body.job_id])).rows[0]!.n);
    assert.equal(credited, 0, 'no credit for a late result');
  });

  it('leaves no delta rows once the job completed, even for batches racing the result', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { slots: 1 });
    for (let round = 0; round < 5; round++) {
      await submitChat(api, business, { message: `stream ${round}` });
      const claim = await claimJob(api, miner);
      const { job_id: jobId, lease_token: leaseToken } = claim.body as { job_id: string; lease_token: string };
      const post = (seq: number, textStart: number, content: string) => api.request('POST', `/job/${jobId}/deltas`, {
        token: miner.auth_key, body: { lease_token: leaseToken, seq, text_start: textStart, content },
      });
      assert.equal((await post(0, 0, 'Here is')).status, 200);
      // Batch 1 and the result on the wire at once.
      const [, result] = await Promise.all([post(1, 7, ' your'), postResult(api, miner, claim.body, { output: 'Here is your answer.' })]);
      assert.equal(result.status, 200, result.text);
      const late = await post(2, 12, ' answer.');
      assert.equal(late.status, 409, 'a batch after the result is refused');
      const left = await withClient(api.databaseUrl, async (c) => (await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM mia.job_deltas WHERE job_id = $1`, [jobId])).rows[0]!.n);
      assert.equal(left, 0, `round ${round}: no delta rows outlive the job`);
    }
  });

  it("keeps another business's job within the first 3 claims when 40 clients of one business submit in parallel", async () => {
    const [busy, quiet] = [await createBusiness(api), await createBusiness(api)];
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => submitChat(api, busy, { message: `parallel ${i}` })));
    assert.ok(burst.every((r) => r.status === 202 || r.status === 200), burst.map((r) => r.status).join(','));
    const single = (await submitChat(api, quiet, { message: 'just one question' })).body.job_id as string;
    const places = await withClient(api.databaseUrl, async (c) => (await c.query<{ n: number }>(
      `SELECT count(DISTINCT fair_at)::int AS n FROM mia.jobs WHERE business_id = $1`, [busy.id])).rows[0]!.n);
    assert.equal(places, 40, 'every parallel submit got its own place');

    const miner = await registerMiner(api, { slots: 1 });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const claim = await claimJob(api, miner);
      assert.equal(claim.status, 200, claim.text);
      order.push(claim.body.job_id);
      await postResult(api, miner, claim.body);
    }
    assert.ok(order.includes(single), 'claimed within the first 3');
  });

  it('gives a job back the same way whichever path takes it (one transition), and moves a backing-off retry off the head', async () => {
    let submitted = 0;
    type Given = { status: string; lease_token: string | null; claimed_at: Date | null; miner_id: string | null; error: string | null; backs_off: boolean; behind: boolean };
    const given = (id: string) => withClient(api.databaseUrl, async (c) => (await c.query<Given>(
      `SELECT status, lease_token, claimed_at, miner_id, error, run_after > now() AS backs_off, fair_at >= run_after AS behind
       FROM mia.jobs WHERE id = $1`, [id])).rows[0]!);
    // Every drop counts (drop_free off: as for a miner past probation); with max_attempts 1
    // the first drop dead-letters, with 3 it requeues.
    async function runningJob(maxAttempts: number) {
      const miner = await registerMiner(api, { slots: 1 });
      // A more urgent business each time: its job is claimed before the ones given back earlier.
      const business = await createBusiness(api, { priority: 50 - ++submitted });
      const id = (await submitChat(api, business, { message: `give back ${maxAttempts}` })).body.job_id as string;
      await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET max_attempts = $2 WHERE id = $1`, [id, maxAttempts]));
      const claim = await claimJob(api, miner);
      assert.equal(claim.body.job_id, id);
      await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET drop_free = false WHERE id = $1`, [id]));
      return { id, miner, claim: claim.body as { job_id: string; lease_token: string } };
    }
    for (const maxAttempts of [1, 3]) {
      const reaped = await runningJob(maxAttempts);
      await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET lease_expires_at = now() - interval '1 s' WHERE id = $1`, [reaped.id]));
      await reapExpiredLeases(api.server.ctx.db);
      const offline = await runningJob(maxAttempts);
      await api.request('POST', `/miner/${offline.miner.miner_id}/status`, { token: offline.miner.auth_key, body: { status: 'offline' } });
      const failed = await runningJob(maxAttempts);
      await postResult(api, failed.miner, failed.claim, { success: false, error: 'out of memory', output: undefined, tokens_generated: undefined });

      const rows = await Promise.all([reaped, offline, failed].map((j) => given(j.id)));
      for (const [k, row] of rows.entries()) {
        const holder = [reaped, offline, failed][k]!.miner.miner_id;
        if (maxAttempts === 1) {
          assert.equal(row.status, 'failed');
          assert.ok(row.lease_token && row.claimed_at, 'a dead letter keeps its lease token and claimed_at for the post-mortem');
          assert.equal(row.miner_id, holder);
        } else {
          assert.equal(row.status, 'queued');
          assert.deepEqual([row.lease_token, row.claimed_at, row.miner_id], [null, null, null], 'a requeued job keeps nothing of the old attempt');
        }
      }
      assert.match(rows[0]!.error!, /^attempt 1 of \d: lease expired/);
      assert.match(rows[1]!.error!, /^attempt 1 of \d: its miner went offline/);
      assert.equal(rows[2]!.error, 'out of memory', "a reported failure keeps the miner's words");
      if (maxAttempts === 3) {
        assert.equal(rows[2]!.backs_off, true, 'a reported failure backs off');
        assert.equal(rows[2]!.behind, true, 'its place moves to when it becomes claimable');
        assert.deepEqual([rows[0]!.backs_off, rows[1]!.backs_off], [false, false], 'a reaped or released job is claimable at once');
      }
      await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET status = 'cancelled', lease_expires_at = NULL WHERE status IN ('queued', 'running')`));
    }
  });
});
