import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { compileNamedParameters, sqlDirectory } from '../../api/db/defineQuery.ts';
import { claimPlan, nestedPlans } from '../support/nestedPlans.ts';
import type pg from 'pg';

// sql/job_claim.sql with the production defaults, as the API calls it: its text and the
// values for these miner ids (one per wanted slot).
const claim = compileNamedParameters(readFileSync(new URL('job_claim.sql', sqlDirectory), 'utf8'));
function claimValues(minerIds: readonly string[], probationJobs = 5): unknown[] {
  const params: Record<string, unknown> = {
    miner_ids: minerIds, lease_base_s: 30, lease_ms_per_token: 100, retry_avoid_s: 60,
    probation_jobs: probationJobs, probation_slots: 1, probation_free_drops: 10, hold_hours: 24,
  };
  return claim.names.map((n) => params[n]);
}

async function insertBusiness(client: pg.Client, name: string): Promise<string> {
  return (await client.query<{ id: string }>(
    `INSERT INTO mia.businesses (name, api_key_hash, webhook_secret) VALUES ($1, $1 || '-hash', $1 || '-secret') RETURNING id`,
    [name],
  )).rows[0]!.id;
}

describe('mia.jobs table health', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });

  it('tunes autovacuum for mia.jobs, the hot queue table', async () => {
    const options = await withClient(
      database.url,
      async (client) =>
        (
          await client.query<{ reloptions: string[] }>(
            `SELECT reloptions FROM pg_class WHERE oid = 'mia.jobs'::regclass`,
          )
        ).rows[0]!.reloptions,
    );
    assert.ok(options.includes('autovacuum_vacuum_scale_factor=0.01'), options.join(', '));
    assert.ok(options.includes('autovacuum_analyze_scale_factor=0.02'), options.join(', '));
  });

  it('claims through jobs_claim_idx, not a scan, with 1M finished jobs in the table', async function () {
    this.timeout(90_000);
    await withClient(database.url, async (client) => {
      const business = (
        await client.query<{ id: string }>(
          `INSERT INTO mia.businesses (name, api_key_hash, webhook_secret) VALUES ('bulk', 'bulk-hash', 'bulk-secret') RETURNING id`,
        )
      ).rows[0]!.id;
      // 1M finished jobs in one statement (no per-row trigger fires for them), then 50 queued ones.
      await client.query(
        `INSERT INTO mia.jobs (business_id, session_id, status, messages, prompt, max_tokens, created_at, completed_at)
         SELECT $1, 's' || (i % 1000), (ARRAY['completed', 'failed', 'cancelled'])[1 + i % 3], '[]', 'hi', 16,
                now() - make_interval(secs => i), now() - make_interval(secs => i)
         FROM generate_series(1, 1000000) AS i`,
        [business],
      );
      await client.query(
        `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens)
         SELECT $1, 'q', '[]', 'hi', 16 FROM generate_series(1, 50)`,
        [business],
      );
      await client.query('ANALYZE mia.jobs');

      const miner = (
        await client.query<{ id: string }>(
          `INSERT INTO mia.miners (name, auth_key_hash) VALUES ('bulk-miner', 'bulk-miner-hash') RETURNING id`,
        )
      ).rows[0]!.id;
      for (const claimSize of [1, 10]) {
        // The plan mia.claim_jobs really runs (migration 0180: a generic plan), not an EXPLAIN
        // of the call; the production defaults: a claim at the depth it meets, probation look-up included.
        const plan = claimPlan(await nestedPlans(client, claim.sql, claimValues(Array<string>(claimSize).fill(miner)), { analyze: false }));
        const jobScans = plan.lines.filter((l) => / on jobs\b/.test(l)).map((l) => l.trim());
        assert.ok(
          jobScans.some((l) => l.includes('Index Scan using jobs_claim_idx on jobs')),
          `claim of ${claimSize} uses jobs_claim_idx: ${JSON.stringify(jobScans)}`,
        );
        assert.equal(jobScans.some((l) => l.includes('Seq Scan on jobs')), false, `no sequential scan of mia.jobs: ${JSON.stringify(jobScans)}`);
      }
    });
  });

  it('updates the jobs a claim picked by primary key on a young table too, not by reading it all', async () => {
    // A few thousand jobs (a new deployment, a freshly purged table): the claim's update
    // joined its picks to mia.jobs by a hash over a sequential scan of the whole table,
    // in the generic plan every connection keeps, so each dispatcher round read every
    // job, more as the table grew (migration 0194). Checked by the plan's shape.
    const young = await createTestDatabase();
    try {
      await withClient(young.url, async (client) => {
        const business = await insertBusiness(client, 'young');
        await client.query(
          `INSERT INTO mia.jobs (business_id, session_id, status, messages, prompt, max_tokens, attempts, output, created_at, claimed_at, completed_at)
           SELECT $1, 's' || i, 'completed', '[]', 'hi', 16, 1, 'done', now(), now(), now() FROM generate_series(1, 3000) AS i`,
          [business],
        );
        await client.query(`INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens) VALUES ($1, 'q', '[]', 'hi', 16)`, [business]);
        await client.query('ANALYZE mia.jobs');
        const miners = (await client.query<{ id: string }>(
          `INSERT INTO mia.miners (name, auth_key_hash) SELECT 'young-' || i, 'young-key-' || i FROM generate_series(1, 8) AS i RETURNING id`,
        )).rows.map((r) => r.id);
        await client.query('BEGIN');
        // A dispatcher round for eight parked miners, as bench scenario 1 runs it.
        const plan = claimPlan(await nestedPlans(client, claim.sql, claimValues(miners), { analyze: true }));
        await client.query('ROLLBACK');
        const jobScans = plan.lines.filter((l) => / on jobs\b/.test(l)).map((l) => l.trim());
        assert.equal(jobScans.some((l) => l.includes('Seq Scan on jobs')), false, `no sequential scan of mia.jobs:\n${plan.lines.join('\n')}`);
        assert.ok(plan.lines.some((l) => /(Index Scan using jobs_pkey on jobs|Bitmap Index Scan on jobs_pkey) .*actual .*rows=1 /.test(l)), `the picked job read by id:\n${plan.lines.join('\n')}`);
      });
    } finally {
      await young.drop();
    }
  });

  it('a claim with nothing queued runs no claim statement, and a queued job of either kind is still claimed', async () => {
    // Most empty claims are an idle fleet's re-polls and the other processes' rounds on a
    // NOTIFY already served: mia.claim_jobs asks whether any job is queued first (migration
    // 0195). Checked by the statements the call ran, and by what it claims.
    const quiet = await createTestDatabase();
    try {
      await withClient(quiet.url, async (client) => {
        const business = await insertBusiness(client, 'quiet');
        const [outsider, own] = (await client.query<{ id: string }>(
          `INSERT INTO mia.miners (name, auth_key_hash, owner_business_id)
           VALUES ('outsider', 'outsider-key', NULL), ('own', 'own-key', $1) RETURNING id`,
          [business],
        )).rows.map((r) => r.id);
        // Finished history only: nothing queued.
        await client.query(
          `INSERT INTO mia.jobs (business_id, session_id, status, messages, prompt, max_tokens, attempts, output, claimed_at, completed_at)
           SELECT $1, 's' || i, 'completed', '[]', 'hi', 16, 1, 'done', now(), now() FROM generate_series(1, 100) AS i`,
          [business],
        );
        const { sql } = claim;
        const values = (minerIds: string[]) => claimValues(minerIds, 0);
        const ran = await nestedPlans(client, sql, values([outsider!, own!]), { analyze: false });
        assert.equal(ran.some((p) => /^WITH wanted AS/.test(p.query.trim())), false, `no claim statement ran:\n${ran.map((p) => p.query).join('\n---\n')}`);
        assert.equal((await client.query(sql, values([outsider!, own!]))).rowCount, 0);

        // Only a restricted job queued (the business's own pool): its own miner gets it.
        const restricted = (await client.query<{ id: string }>(
          `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens, pool) VALUES ($1, 'r', '[]', 'hi', 16, $2) RETURNING id`,
          [business, `own:${business}`],
        )).rows[0]!.id;
        const claimedByOwn = (await client.query<{ job_id: string; miner_id: string }>(sql, values([own!]))).rows;
        assert.deepEqual(claimedByOwn.map((r) => [r.job_id, r.miner_id]), [[restricted, own]]);

        // Only an open job queued: an outsider gets it.
        const open = (await client.query<{ id: string }>(
          `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens) VALUES ($1, 'o', '[]', 'hi', 16) RETURNING id`,
          [business],
        )).rows[0]!.id;
        const claimedByOutsider = (await client.query<{ job_id: string; miner_id: string }>(sql, values([outsider!]))).rows;
        assert.deepEqual(claimedByOutsider.map((r) => [r.job_id, r.miner_id]), [[open, outsider]]);
      });
    } finally {
      await quiet.drop();
    }
  });

  it('credits accepted results by primary key while statistics still count no finished jobs', async () => {
    // After a busy spell, before autoanalyze: the statistics say no job is finished, and the
    // credit's plan (a generic one: the result transaction asks for it) then read every
    // finished job through jobs_finished_idx to find the ten it credits (bench scenario 3,
    // 12-20 ms a call). Checked by the plan's shape, not by time.
    const stale = await createTestDatabase();
    try {
      await withClient(stale.url, async (client) => {
        const business = (await client.query<{ id: string }>(
          `INSERT INTO mia.businesses (name, api_key_hash, webhook_secret) VALUES ('busy', 'busy-hash', 'busy-secret') RETURNING id`,
        )).rows[0]!.id;
        const miner = (await client.query<{ id: string }>(
          `INSERT INTO mia.miners (name, auth_key_hash) VALUES ('busy-miner', 'busy-miner-hash') RETURNING id`,
        )).rows[0]!.id;
        await client.query(
          `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens) SELECT $1, 'q', '[]', 'hi', 16 FROM generate_series(1, 5000)`,
          [business],
        );
        await client.query('ANALYZE mia.jobs');
        const done = (await client.query<{ id: string }>(
          `UPDATE mia.jobs SET status = 'completed', miner_id = $1, attempts = 1, claimed_at = now(), completed_at = now(), output = 'x'
           RETURNING id`,
          [miner],
        )).rows.map((r) => r.id);
        const verdicts = JSON.stringify(done.slice(0, 10).map((id) => ({ job_id: id, tokens: 5, prompt_tokens: 7, reason: null, figures: null })));
        const { sql, names } = compileNamedParameters(readFileSync(new URL('miner_credit_job.sql', sqlDirectory), 'utf8'));
        const values: Record<string, string> = { miner_id: miner, verdicts };
        await client.query('SET plan_cache_mode = force_generic_plan');
        await client.query(`PREPARE credit AS ${sql}`);
        const plan = (await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN EXECUTE credit(${names.map((n) => client.escapeLiteral(values[n]!)).join(', ')})`,
        )).rows.map((r) => r['QUERY PLAN']);
        const jobScans = plan.filter((l) => / on jobs\b/.test(l)).map((l) => l.trim());
        assert.equal(jobScans.some((l) => l.includes('jobs_finished_idx') || l.includes('Seq Scan')), false, JSON.stringify(jobScans));
        assert.ok(jobScans.some((l) => l.includes('Index Scan using jobs_pkey')), JSON.stringify(jobScans));
      });
    } finally {
      await stale.drop();
    }
  });
  it("an outsider's claim reads past none of the restricted jobs at the head of the queue", async () => {
    // Own miners slower than their business submits: 2,000 own-pool jobs wait at the head,
    // and an outsider's claim must reach the open job behind them without reading them
    // (migration 0191: jobs_claim_idx holds open jobs only). Checked by the rows the plan
    // read, not by time.
    const backlog = await createTestDatabase();
    try {
      await withClient(backlog.url, async (client) => {
        const business = (await client.query<{ id: string }>(
          `INSERT INTO mia.businesses (name, api_key_hash, webhook_secret, miner_pool) VALUES ('own', 'own-hash', 'own-secret', 'own') RETURNING id`,
        )).rows[0]!.id;
        await client.query(
          `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens, pool, fair_at)
           SELECT $1::uuid, 'q', '[]', 'hi', 16, 'own:' || $1::text, now() - interval '1 hour' + make_interval(secs => i)
           FROM generate_series(1, 2000) AS i`,
          [business],
        );
        await client.query(
          `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens) VALUES ($1, 'open', '[]', 'hi', 16)`,
          [business],
        );
        await client.query('ANALYZE mia.jobs');
        const outsider = (await client.query<{ id: string }>(
          `INSERT INTO mia.miners (name, auth_key_hash) VALUES ('outsider', 'outsider-hash') RETURNING id`,
        )).rows[0]!.id;
        await client.query('BEGIN');
        const plan = claimPlan(await nestedPlans(client, claim.sql, claimValues([outsider]), { analyze: true }));
        await client.query('ROLLBACK');
        const text = plan.lines.join('\n');
        assert.match(text, /Index Scan using jobs_claim_idx on jobs .*rows=1\b/, text);
        const removed = [...text.matchAll(/Rows Removed by Filter: (\d+)/g)].map((m) => Number(m[1]));
        assert.ok(removed.every((n) => n < 10), `rows read and skipped: ${JSON.stringify(removed)}\n${text}`);
      });
    } finally {
      await backlog.drop();
    }
  });
});
