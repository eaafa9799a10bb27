// 5. Claim latency vs table size: the same claim, with 10k and with 1M
// finished jobs in mia.jobs (bulk-inserted with generate_series, then
// ANALYZE, as autovacuum would have). Measured two ways, one claim at a time:
// over HTTP (GET /job/next, the miner's view) and as the bare claim statement
// through pg (no HTTP noise). EXPLAIN ANALYZE of the claim is kept in the notes.
import { readFileSync } from 'node:fs';
import { compileNamedParameters, sqlDirectory } from '../../api/db/defineQuery.ts';
import { benchAdminToken, startApiProcess } from '../lib/apiProcess.ts';
import { connect } from '../lib/benchPostgres.ts';
import { createBusiness, createMiners, insertFinishedJobs, insertQueuedJobs } from '../lib/fixtures.ts';
import { HttpClient } from '../lib/httpClient.ts';
import { resultOf, type ClaimedJob } from '../lib/minerSim.ts';
import { withCleanup, type Scenario } from '../lib/scenario.ts';
import { nowMs, summarize } from '../lib/stats.ts';

export const claimVsTableSize: Scenario = {
  id: '5-table-size',
  title: 'Claim latency vs table size (finished rows present)',
  run: (ctx, report) =>
    withCleanup(async (defer) => {
      const sizes = ctx.quick ? [10_000, 50_000] : [10_000, 1_000_000];
      const claims = ctx.quick ? 200 : 2000;
      const url = await ctx.pg.createDatabase('mia_bench_table_size');
      defer(() => ctx.pg.dropDatabase('mia_bench_table_size'));
      const db = await connect(url);
      defer(() => db.end());
      const [httpMiner, sqlMiner] = await createMiners(db, 2);
      const { sql: claimSql, names } = compileNamedParameters(readFileSync(new URL('job_claim.sql', sqlDirectory), 'utf8'));
      const claimParams = (minerId: string) => {
        const values: Record<string, unknown> = { miner_ids: [minerId], lease_base_s: 30, lease_ms_per_token: 100, retry_avoid_s: 60, probation_jobs: 0, probation_slots: 1, probation_free_drops: 10 };
        return names.map((n) => values[n]);
      };

      const api = await startApiProcess(url, ctx.apiEnv);
      defer(() => api.stop());
      const client = new HttpClient(api.url);
      defer(() => client.close());
      const business = await createBusiness(api.url, benchAdminToken);

      const results: { rows: number; http: ReturnType<typeof summarize>; sql: ReturnType<typeof summarize> }[] = [];
      let present = 0;
      for (const size of sizes) {
        ctx.progress(`${size.toLocaleString('en-US')} finished rows: inserting`);
        await insertFinishedJobs(db, business.id, size - present);
        present = size;
        await insertQueuedJobs(db, business.id, claims * 2, `size-${size}`);
        await db.query('VACUUM ANALYZE mia.jobs');
        const total = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM mia.jobs')).rows[0]!.n);

        ctx.progress(`${total.toLocaleString('en-US')} rows: ${claims} claims over HTTP, ${claims} as bare SQL`);
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
        const sqlTimes: number[] = [];
        for (let i = 0; i < claims; i++) {
          const t0 = nowMs();
          const r = await db.query(claimSql, claimParams(sqlMiner!.id));
          sqlTimes.push(nowMs() - t0);
          if (r.rowCount !== 1) throw new Error('bare claim found no job');
          // Untimed: finish it, as the HTTP loop does, so the miner's slots (enforced by
          // the claim) never fill up.
          await db.query(`UPDATE mia.jobs SET status = 'completed', completed_at = now(), lease_expires_at = NULL WHERE id = $1`, [
            (r.rows[0] as { job_id: string }).job_id,
          ]);
        }
        const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${claimSql}`, claimParams(sqlMiner!.id));
        const planText = plan.rows.map((r) => r['QUERY PLAN']);
        // The scan of mia.jobs (the claim also reads the miner's row and running count).
        const scan = planText.find((l) => /Scan.* on jobs( |$)(?!r )/.test(l) && !/ on jobs r\b/.test(l))?.trim() ?? '?';
        const execution = planText.find((l) => l.startsWith('Execution Time'))?.trim() ?? '';
        report.notes.push(`${total.toLocaleString('en-US')} rows: claim plan uses "${scan}"; ${execution}`);
        results.push({ rows: total, http: summarize(httpTimes), sql: summarize(sqlTimes) });
      }

      const [small, large] = results as [(typeof results)[0], (typeof results)[0]];
      const flat = (a: number, b: number) => Math.abs(b / a - 1) <= 0.2;
      const label = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${Math.round(n / 1e3)}k`);
      report.rows.push(
        { measure: `HTTP claim p50 at ${label(large.rows)} rows`, value: large.http.p50, unit: 'ms', baseline: { name: `at ${label(small.rows)} rows`, value: small.http.p50 }, better: 'lower', target: 'flat ±20%', met: flat(small.http.p50, large.http.p50) },
        { measure: `HTTP claim p99 at ${label(large.rows)} rows`, value: large.http.p99, unit: 'ms', baseline: { name: `at ${label(small.rows)} rows`, value: small.http.p99 }, better: 'lower' },
        { measure: `SQL claim p50 at ${label(large.rows)} rows`, value: large.sql.p50, unit: 'ms', baseline: { name: `at ${label(small.rows)} rows`, value: small.sql.p50 }, better: 'lower', target: 'flat ±20%', met: flat(small.sql.p50, large.sql.p50) },
        { measure: `SQL claim p99 at ${label(large.rows)} rows`, value: large.sql.p99, unit: 'ms', baseline: { name: `at ${label(small.rows)} rows`, value: small.sql.p99 }, better: 'lower' },
      );
    }),
};
