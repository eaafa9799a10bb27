// Jobs a miner claimed ahead and hands back unstarted (issue 18): the status report's
// `unstarted` gives them back without counting the attempt, but only when nothing was
// streamed for it and at most 3 times per job, so a stranger cannot cycle a job forever
// or hide a started job's failure.
import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, registerMiner, submitChat } from '../support/factories.ts';

describe('handing back unstarted jobs', () => {
  // No grace for a fresh claim, so a report that does not qualify drops the job at once.
  const api = useTestApi({ env: { MIA_HEARTBEAT_CLAIM_GRACE_SECONDS: '0' } });
  const report = (miner: { miner_id: string; auth_key: string }, body: Record<string, unknown>) =>
    api.request('POST', `/miner/${miner.miner_id}/status`, { token: miner.auth_key, body: { status: 'idle', running: [], ...body } });
  const row = (id: string) => withClient(api.databaseUrl, async (c) => (await c.query<{ status: string; attempts: number; max_attempts: number; free_drops: number }>(
    'SELECT status, attempts, max_attempts, free_drops FROM mia.jobs WHERE id = $1', [id])).rows[0]!);

  it('gives an unstarted job back uncounted, at most 3 times; then the drop counts', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business);
    for (let round = 1; round <= 4; round += 1) {
      const claimed = await claimJob(api, miner);
      assert.equal(claimed.status, 200, claimed.text);
      const res = await report(miner, { unstarted: [claimed.body.lease_token] });
      assert.equal(res.status, 200, res.text);
      const job = await row(chat.body.job_id);
      assert.equal(job.status, 'queued');
      assert.equal(job.attempts, round);
      if (round <= 3) {
        assert.equal(job.free_drops, round, 'not counted');
        assert.equal(job.max_attempts, 3 + round);
      } else {
        // The fourth hand-back is not free: the report's drop counts it (the heartbeat rule).
        assert.equal(job.free_drops, 3);
        assert.equal(job.max_attempts, 6);
      }
    }
  });

  it('counts a job whose attempt already streamed text, even if the miner calls it unstarted', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const chat = await submitChat(api, business);
    const claimed = await claimJob(api, miner);
    const delta = await api.request('POST', `/job/${claimed.body.job_id}/deltas`, {
      token: miner.auth_key,
      body: { lease_token: claimed.body.lease_token, seq: 0, text_start: 0, content: 'Hello' },
    });
    assert.equal(delta.status, 200, delta.text);
    await report(miner, { unstarted: [claimed.body.lease_token] });
    const job = await row(chat.body.job_id);
    assert.equal(job.status, 'queued');
    assert.equal(job.free_drops, 0, 'counted');
    assert.equal(job.max_attempts, 3);
  });

  it('ignores lease tokens that are not the caller\'s', async () => {
    const business = await createBusiness(api);
    const owner = await registerMiner(api);
    const other = await registerMiner(api);
    const chat = await submitChat(api, business);
    const claimed = await claimJob(api, owner);
    await report(other, { unstarted: [claimed.body.lease_token] });
    assert.equal((await row(chat.body.job_id)).status, 'running');
  });
});
