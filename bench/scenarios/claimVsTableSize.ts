// 5. Claim latency vs queue depth: the same claim with 10k, 100k and 1M *queued*
// jobs (quick: 10k and 100k) spread over 50 businesses, bulk-inserted with
// generate_series, then ANALYZE, as autovacuum would have. The plan is read with
// EXPLAIN (ANALYZE, SETTINGS) while the queue is full (an EXPLAIN after the queue
// drained reads rows=0 and proves nothing): its estimated cost must stay below
// jit_above_cost, or Postgres JIT-compiles every claim (issue 17). Measured two
// ways, one claim at a time: the bare claim statement through pg, each in a
// transaction rolled back so the depth stays what it says; and over HTTP
// (GET /job/next, the miner's view, each job then completed).
import { readFileSync } from 'node:fs';
import { compileNamedParameters, sqlDirectory } from '../../api/db/defineQuery.ts';
import { benchAdminToken, startApiProcess } from '../lib/apiProcess.ts';
import { connect } from '../lib/benchPostgres.ts';
import { createBusiness, createMiners, insertQueuedJobsOver } from '../lib/fixtures.ts';
import { HttpClient } from '../lib/httpClient.ts';
import { resultOf, type ClaimedJob } from '../lib/minerSim.ts';
import { withCleanup, type Scenario } from '../lib/scenario.ts';
import { claimPlan, nestedPlans } from '../../test/support/nestedPlans.ts';
import { nowMs, summarize } from '../lib/stats.ts';

const businessCount = 50;

export const claimVsTableSize: Scenario = {
  id: '5-table-size',
  title: 'Claim latency vs queue depth (queued jobs over 50 businesses)',
  run: (ctx, report) =>
    withCleanup(async (defer) => {
      const depths = ctx.quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
      const claims = ctx.quick ? 100 : 1000;
      const url = await ctx.pg.createDatabase('mia_bench_table_size');
      defer(() => ctx.pg.dropDatabase('mia_bench_table_size'));
      const db = await connect(url);
      defer(() => db.end());
      const [httpMiner, sqlMiner] = await createMiners(db, 2);
      const { sql: claimSql, names } = compileNamedParameters(readFileSync(new URL('job_claim.sql', sqlDirectory), 'utf8'));
      const claimParams = (minerId: string) => {
        const values: Record<string, unknown> = { miner_ids: [minerId], lease_base_s: 30, lease_ms_per_token: 100, retry_avoid_s: 60, probation_jobs: 0, probation_slots: 1, probation_free_drops: 10, hold_hours: 24 };
        return names.map((n) => values[n]);
      };

      const api = await startApiProcess(url, ctx.apiEnv);
      defer(() => api.stop());
      const client = new HttpClient(api.url);
      defer(() => client.close());
      // One through the API (its key claims over HTTP is the miner's); the rest as rows.
      const first = await createBusiness(api.url, benchAdminToken);
      const others = await db.query<{ id: string }>(
        `INSERT INTO mia.businesses (name, system_prompt, api_key_hash, webhook_secret)
         SELECT 'bench depth ' || g, 'You help.', md5('bench depth ' || g), md5('bench secret ' || g) FROM generate_series(2, $1::int) AS g
         RETURNING id`,
        [businessCount],
      );
      const businessIds = [first.id, ...others.rows.map((r) => r.id)];

      const results: { depth: number; http: ReturnType<typeof summarize>; sql: ReturnType<typeof summarize> }[] = [];
      let present = 0;
      for (const depth of depths) {
        ctx.progress(`${depth.toLocaleString('en-US')} queued jobs: inserting`);
        await insertQueuedJobsOver(db, businessIds, present + 1, depth - present);
        present = depth;
        await db.query('VACUUM ANALYZE mia.jobs');

        // The plan at depth, under the server's default settings (JIT included): the plan
        // mia.claim_jobs runs (migration 0180), read with auto_explain (an EXPLAIN of the
        // call would show only the function scan).
        await db.query('BEGIN');
        const plan = claimPlan(await nestedPlans(db, claimSql, claimParams(sqlMiner!.id), { analyze: true }));
        await db.query('ROLLBACK');
        const planText = plan.lines;
        const cost = Number(/cost=[\d.]+\.\.([\d.]+)/.exec(planText[0] ?? '')?.[1] ?? NaN);
        const jitAbove = Number((await db.query<{ v: string }>(`SELECT current_setting('jit_above_cost') AS v`)).rows[0]!.v);
        const jit = planText.some((l) => l.trim().startsWith('JIT:'));
        const scan = planText.find((l) => /Scan using jobs_claim_idx/.test(l))?.trim() ?? 'no scan of jobs_claim_idx';
        const execution = `claim statement ${plan.durationMs.toFixed(3)} ms`;
        report.notes.push(
          `${depth.toLocaleString('en-US')} queued: claim cost ${cost} (jit_above_cost ${jitAbove})${jit ? ', JIT COMPILED' : ', no JIT'}; "${scan}"; ${execution}`,
        );

        ctx.progress(`${depth.toLocaleString('en-US')} queued: ${claims} claims as bare SQL (rolled back), ${claims} over HTTP`);
        const sqlTimes: number[] = [];
        for (let i = 0; i < claims; i++) {
          await db.query('BEGIN');
          const t0 = nowMs();
          const r = await db.query(claimSql, claimParams(sqlMiner!.id));
          sqlTimes.push(nowMs() - t0);
          await db.query('ROLLBACK');
          if (r.rowCount !== 1) throw new Error('bare claim found no job');
        }
        const httpTimes: number[] = [];
        for (let i = 0; i < claims; i++) {
          const t0 = nowMs();
          const res = await client.request('GET', `/job/next?miner_id=${httpMiner!.id}&wait=0`, { token: httpMiner!.key });
          httpTimes.push(nowMs() - t0);
          if (res.status !== 200) throw new Error(`claim: ${res.status} ${res.text.slice(0, 200)}`);
          const job = JSON.parse(res.text) as ClaimedJob;
          const done = await client.request('POST', '/job/result', { token: httpMiner!.key, body: { ...resultOf(job), miner_id: httpMiner!.id } });
          if (done.status !== 200) throw new Error(`result: ${done.status}`);
        }
        present -= claims; // completed over HTTP
        results.push({ depth, http: summarize(httpTimes), sql: summarize(sqlTimes) });
      }

      const small = results[0]!;
      const label = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${Math.round(n / 1e3)}k`);
      // The target: p50 at depth within 1.2x of p50 at 10k queued.
      const flat = (a: number, b: number) => b / a <= 1.2;
      for (const deep of results.slice(1)) {
        const at = `${label(deep.depth)} queued`;
        const base = `at ${label(small.depth)} queued`;
        report.rows.push(
          { measure: `SQL claim p50 at ${at}`, value: deep.sql.p50, unit: 'ms', baseline: { name: base, value: small.sql.p50 }, better: 'lower', target: '≤ 1.2×', met: flat(small.sql.p50, deep.sql.p50) },
          { measure: `SQL claim p99 at ${at}`, value: deep.sql.p99, unit: 'ms', baseline: { name: base, value: small.sql.p99 }, better: 'lower' },
          { measure: `HTTP claim p50 at ${at}`, value: deep.http.p50, unit: 'ms', baseline: { name: base, value: small.http.p50 }, better: 'lower', target: '≤ 1.2×', met: flat(small.http.p50, deep.http.p50) },
          { measure: `HTTP claim p99 at ${at}`, value: deep.http.p99, unit: 'ms', baseline: { name: base, value: small.http.p99 }, better: 'lower' },
        );
      }
    }),
};
