// Only the current lease completes a job. A result must name its lease: one from a lease
// the operator requeued used to be accepted when it left the token out, and the current
// lease's answer then got 409 — the stored answer was the stale one.
import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat } from '../support/factories.ts';

describe('lease fencing of results', () => {
  const api = useTestApi();

  async function claimRequeueClaim() {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const submitted = await submitChat(api, business, { message: 'Where is my parcel?' });
    const first = (await claimJob(api, miner)).body;
    const requeued = await api.request('POST', `/job/${first.job_id}/requeue`, { token: api.adminToken, body: { reason: 'operator test' } });
    assert.equal(requeued.status, 200, requeued.text);
    const second = (await claimJob(api, miner)).body;
    assert.equal(second.job_id, submitted.body.job_id);
    assert.notEqual(second.lease_token, first.lease_token);
    return { miner, first, second };
  }

  it('refuses a result without lease_token (400 naming it), on the single and the batch route', async () => {
    const { miner, second } = await claimRequeueClaim();
    const single = await postResult(api, miner, { job_id: second.job_id }, { lease_token: undefined });
    assert.equal(single.status, 400, single.text);
    assert.match(single.body.error.message, /lease_token/);
    const batch = await api.request('POST', '/jobs/results', {
      token: miner.auth_key,
      body: { miner_id: miner.miner_id, results: [{ job_id: second.job_id, success: false, error: 'x' }] },
    });
    assert.equal(batch.status, 400, batch.text);
    assert.match(batch.body.error.message, /lease_token/);
  });

  it('refuses the stale lease\'s result and stores the current lease\'s', async () => {
    const { miner, first, second } = await claimRequeueClaim();
    const stale = await postResult(api, miner, first, { output: 'stale answer' });
    assert.equal(stale.status, 409, stale.text);
    assert.equal(stale.body.error.code, 'lease_lost');
    const current = await postResult(api, miner, second, { output: 'current answer' });
    assert.equal(current.status, 200, current.text);
    const row = await withClient(api.databaseUrl, (c) => c.query('SELECT status, output FROM mia.jobs WHERE id = $1', [second.job_id]));
    assert.deepEqual(row.rows[0], { status: 'completed', output: 'current answer' });
  });

  it('a stale failure report does not send the current lease\'s job back to the queue', async () => {
    const { miner, first, second } = await claimRequeueClaim();
    const stale = await postResult(api, miner, first, { success: false, error: 'gave up', output: undefined, tokens_generated: undefined });
    assert.equal(stale.status, 409, stale.text);
    const row = await withClient(api.databaseUrl, (c) => c.query('SELECT status, lease_token FROM mia.jobs WHERE id = $1', [second.job_id]));
    assert.deepEqual(row.rows[0], { status: 'running', lease_token: second.lease_token });
  });
});
