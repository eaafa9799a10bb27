// 5p. The claim with pools (issue 21 item 3, README "Pools"): 100k queued jobs over 50
// businesses, first all open, then with 10 of the businesses restricted to their own
// miners (jobs.pool set on 20% of the queue, interleaved as fair queueing spreads them).
// Bare claim statements, each in a transaction rolled back so the depth stays 100k:
// an outsider (skips the restricted rows it meets), an own miner (takes them), and one
// statement for 8 miners at once (the dispatcher's, through the pool matching). The
// plans are read with EXPLAIN (ANALYZE) at depth, before and after.
import { readFileSync } from 'node:fs';
import { compileNamedParameters, sqlDirectory } from '../../api/db/defineQuery.ts';
import { connect } from '../lib/benchPostgres.ts';
import { createMiners, insertQueuedJobsOver } from '../lib/fixtures.ts';
import { withCleanup, type Scenario } from '../lib/scenario.ts';
import { claimPlan, nestedPlans } from '../../test/support/nestedPlans.ts';
import { nowMs, summarize } from '../lib/stats.ts';

const businessCount = 50;
const restrictedBusinesses = 10;
const depth = 100_000;

export const claimWithPools: Scenario = {
  id: '5p-pools',
  title: 'Claim latency with pools at 100k queued (20% of jobs restricted to own miners)',
  run: (ctx, report) =>
    withCleanup(async (defer) => {
      const claims = ctx.quick ? 100 : 1000;
      const url = await ctx.pg.createDatabase('mia_bench_pools');
      defer(() => ctx.pg.dropDatabase('mia_bench_pools'));
      const db = await connect(url);
      defer(() => db.end());
      const { sql: claimSql, names } = compileNamedParameters(readFileSync(new URL('job_claim.sql', sqlDirectory), 'utf8'));
      const params = (minerIds: string[]) => {
        const values: Record<string, unknown> = { miner_ids: minerIds, lease_base_s: 30, lease_ms_per_token: 100, retry_avoid_s: 60, probation_jobs: 0, probation_slots: 1, probation_free_drops: 10, hold_hours: 24 };
        return names.map((n) => values[n]);
      };
      const businesses = await db.query<{ id: string }>(
        `INSERT INTO mia.businesses (name, system_prompt, api_key_hash, webhook_secret)
         SELECT 'bench pools ' || g, 'You help.', md5('bench pools ' || g), md5('bench pools secret ' || g) FROM generate_series(1, $1::int) AS g
         RETURNING id`,
        [businessCount],
      );
      const businessIds = businesses.rows.map((r) => r.id);
      const miners = await createMiners(db, 8, 'bench-pool-miner');
      const outsider = miners[0]!.id;
      const own = miners[1]!.id;
      const batch = miners.map((m) => m.id);

      ctx.progress(`${depth.toLocaleString('en-US')} queued jobs: inserting`);
      await insertQueuedJobsOver(db, businessIds, 1, depth);
      await db.query('VACUUM ANALYZE mia.jobs');

      const explain = async (label: string, minerIds: string[]) => {
        await db.query('BEGIN');
        // The plan mia.claim_jobs runs (migration 0180), read with auto_explain.
        const plan = claimPlan(await nestedPlans(db, claimSql, params(minerIds), { analyze: true }));
        await db.query('ROLLBACK');
        const lines = plan.lines;
        const cost = /cost=[\d.]+\.\.([\d.]+)/.exec(lines[0] ?? '')?.[1] ?? '?';
        const scans = lines.filter((l) => /Scan using jobs_(pool_)?claim_idx/.test(l)).map((l) => l.trim().replace(/^->\s+/, ''));
        const removed = lines.filter((l) => /Rows Removed by Filter/.test(l)).map((l) => Number(/(\d+)/.exec(l)?.[1] ?? 0)).reduce((a, b) => a + b, 0);
        const jit = lines.some((l) => l.trim().startsWith('JIT:'));
        const execution = `claim statement ${plan.durationMs.toFixed(3)} ms`;
        report.notes.push(`${label}: cost ${cost}; ${scans.map((x) => `"${x}"`).join('; ')}; rows removed by filters ${removed}; ${jit ? 'JIT COMPILED' : 'no JIT'}; ${execution}`);
      };
      const time = async (minerIds: string[], expect: number) => {
        const times: number[] = [];
        for (let i = 0; i < claims; i++) {
          await db.query('BEGIN');
          const t0 = nowMs();
          const r = await db.query<{ business_id: string }>(claimSql, params(minerIds));
          times.push(nowMs() - t0);
          await db.query('ROLLBACK');
          if (r.rowCount !== expect) throw new Error(`claim for ${minerIds.length} miner(s) got ${r.rowCount} jobs, not ${expect}`);
        }
        return summarize(times);
      };

      ctx.progress(`all open: ${claims} claims each`);
      await explain('all open, outsider', [outsider]);
      const openOutsider = await time([outsider], 1);
      const openBatch = await time(batch, 8);

      ctx.progress('restricting 20% of the queue to own miners');
      // From now on miners[1] is the first business's own (it then takes that business's jobs only).
      await db.query(`UPDATE mia.miners SET owner_business_id = $2 WHERE id = $1`, [own, businessIds[0]]);
      await db.query(`UPDATE mia.businesses SET miner_pool = 'own' WHERE id = ANY ($1::uuid[])`, [businessIds.slice(0, restrictedBusinesses)]);
      await db.query(`UPDATE mia.jobs SET pool = 'own:' || business_id WHERE business_id = ANY ($1::uuid[])`, [businessIds.slice(0, restrictedBusinesses)]);
      await db.query('VACUUM ANALYZE mia.jobs');
      await explain('20% restricted, outsider', [outsider]);
      await explain('20% restricted, own miner', [own]);
      await explain('20% restricted, 8 miners in one claim', batch);
      ctx.progress(`20% restricted: ${claims} claims each`);
      const pooledOutsider = await time([outsider], 1);
      const pooledOwn = await time([own], 1);
      const pooledBatch = await time(batch, 8);

      // The worst case: a backlog of 10k restricted jobs at the queue's head (own miners slower
      // than their business submits, and the business waits): the open pick reads past them.
      ctx.progress('a backlog of 10k restricted jobs at the head');
      await db.query(
        `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens, created_at, run_after, fair_at, pool)
         SELECT $1::uuid, 'backlog-' || g, '[{"role":"user","content":"hi"}]', 'backlog', 64, now() - interval '2 hours',
                now() - interval '2 hours', now() - interval '2 hours' + g * interval '1 ms', 'own:' || $1::text
         FROM generate_series(1, 10000) AS g`,
        [businessIds[0]],
      );
      await db.query('VACUUM ANALYZE mia.jobs');
      await explain('10k restricted at the head, outsider', [outsider]);
      await explain('10k restricted at the head, own miner', [own]);
      const backlogOutsider = await time([outsider], 1);
      const backlogOwn = await time([own], 1);

      const base = (name: string, value: number) => ({ name, value });
      report.rows.push(
        { measure: 'SQL claim p50, outsider, 20% restricted', value: pooledOutsider.p50, unit: 'ms', baseline: base('all open', openOutsider.p50), better: 'lower', target: '≤ 1.2×', met: pooledOutsider.p50 / openOutsider.p50 <= 1.2 },
        { measure: 'SQL claim p99, outsider, 20% restricted', value: pooledOutsider.p99, unit: 'ms', baseline: base('all open', openOutsider.p99), better: 'lower' },
        { measure: 'SQL claim p50, own miner, 20% restricted', value: pooledOwn.p50, unit: 'ms', baseline: base('outsider, all open', openOutsider.p50), better: 'lower', target: '≤ 1.2×', met: pooledOwn.p50 / openOutsider.p50 <= 1.2 },
        { measure: 'SQL claim p99, own miner, 20% restricted', value: pooledOwn.p99, unit: 'ms', baseline: base('outsider, all open', openOutsider.p99), better: 'lower' },
        { measure: 'SQL claim p50, 8 miners in one claim, 20% restricted', value: pooledBatch.p50, unit: 'ms', baseline: base('8 miners, all open', openBatch.p50), better: 'lower', target: '≤ 1.2×', met: pooledBatch.p50 / openBatch.p50 <= 1.2 },
        { measure: 'SQL claim p99, 8 miners in one claim, 20% restricted', value: pooledBatch.p99, unit: 'ms', baseline: base('8 miners, all open', openBatch.p99), better: 'lower' },
        { measure: 'SQL claim p50, outsider, 10k restricted at the head', value: backlogOutsider.p50, unit: 'ms', baseline: base('all open', openOutsider.p50), better: 'lower' },
        { measure: 'SQL claim p50, own miner, 10k restricted at the head', value: backlogOwn.p50, unit: 'ms', baseline: base('outsider, all open', openOutsider.p50), better: 'lower' },
      );
    }),
};
