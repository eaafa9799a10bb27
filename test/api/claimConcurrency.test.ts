import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, registerMiner, type TestMiner } from '../support/factories.ts';

describe('claiming under concurrency', () => {
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  it('claims each of 1,000 queued jobs exactly once under 16 concurrent miners', async () => {
    const business = await createBusiness(api);
    // Bulk insert: the subject here is the claim, not the submit path.
    await withClient(api.databaseUrl, (client) =>
      client.query(
        `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens)
         SELECT $1, 's' || g, '[{"role":"user","content":"hi"}]', 'hi', 16 FROM generate_series(1, 1000) AS g`,
        [business.id],
      ),
    );
    const miners: TestMiner[] = await Promise.all(Array.from({ length: 16 }, () => registerMiner(api, { slots: 256 })));

    const claimedBy = new Map<string, string[]>();
    await Promise.all(
      miners.map(async (miner) => {
        const mine: string[] = [];
        for (let i = 0; i < 2000; i++) {
          const res = await api.request('GET', `/job/next?miner_id=${miner.miner_id}`, { token: miner.auth_key });
          if (res.status === 204) break;
          assert.equal(res.status, 200, res.text);
          mine.push(res.body.job_id);
        }
        claimedBy.set(miner.miner_id, mine);
      }),
    );

    const all = [...claimedBy.values()].flat();
    assert.equal(all.length, 1000, 'every job was handed out');
    assert.equal(new Set(all).size, 1000, 'no job was handed out twice');
    const { rows } = await withClient(api.databaseUrl, (client) =>
      client.query(`SELECT status, attempts, count(*)::int AS n FROM mia.jobs GROUP BY status, attempts`),
    );
    assert.deepEqual(rows, [{ status: 'running', attempts: 1, n: 1000 }]);
    // Each job's holder in the database is the miner that received it.
    const holders = await withClient(api.databaseUrl, (client) => client.query(`SELECT id, miner_id FROM mia.jobs`));
    const holderOf = new Map(holders.rows.map((r: { id: string; miner_id: string }) => [r.id, r.miner_id]));
    for (const [minerId, jobIds] of claimedBy) for (const id of jobIds) assert.equal(holderOf.get(id), minerId);
  });

  it('gives a batch claim up to max_jobs distinct jobs in priority order', async () => {
    await withClient(api.databaseUrl, (client) => client.query(`UPDATE mia.jobs SET status = 'cancelled', lease_expires_at = NULL WHERE status IN ('queued','running')`));
    const urgent = await createBusiness(api, { priority: 1 });
    const normal = await createBusiness(api, { priority: 100 });
    const miner = await registerMiner(api, { slots: 4 });
    for (let i = 0; i < 3; i++) await api.request('POST', '/chat', { token: normal.api_key, body: { message: `normal ${i}`, wait: 0 } });
    await api.request('POST', '/chat', { token: urgent.api_key, body: { message: 'urgent', wait: 0 } });

    const batch = await api.request('GET', `/jobs/next?miner_id=${miner.miner_id}&max_jobs=3`, { token: miner.auth_key });
    assert.equal(batch.status, 200);
    const prompts = batch.body.jobs.map((j: { prompt: string }) => j.prompt);
    assert.deepEqual(prompts, ['urgent', 'normal 0', 'normal 1']);

    const results = await api.request('POST', '/jobs/results', {
      token: miner.auth_key,
      body: {
        miner_id: miner.miner_id,
        results: batch.body.jobs.map((j: { job_id: string; lease_token: string }) => ({
          job_id: j.job_id, lease_token: j.lease_token, success: true, output: 'ok', tokens_generated: 2,
        })),
      },
    });
    assert.equal(results.status, 200);
    assert.deepEqual(results.body.results.map((r: { outcome: string }) => r.outcome), ['accepted', 'accepted', 'accepted']);
    const rest = await api.request('GET', `/jobs/next?miner_id=${miner.miner_id}&max_jobs=10`, { token: miner.auth_key });
    assert.deepEqual(rest.body.jobs.map((j: { prompt: string }) => j.prompt), ['normal 2']);
  });
});
