// Scenarios 2 and 3: M simulated miners claim and complete K queued jobs
// over HTTP (one job per request, or `batch` per request), then the same K
// jobs' worth of work through the four yardsticks (lib/baselines.ts), on the same database, at
// the same concurrency, one after the other (never at the same time).
import type pg from 'pg';
import { benchAdminToken, startApiProcess } from './apiProcess.ts';
import { connect } from './benchPostgres.ts';
import { graphileThroughput, miaSqlLoop, rawSqlLoop, stackFloorLoop, type ThroughputResult } from './baselines.ts';
import { CpuMeter } from './cpu.ts';
import { createBusiness, createMiners, insertQueuedJobs } from './fixtures.ts';
import { HttpClient } from './httpClient.ts';
import { runMinerLoop } from './minerSim.ts';
import { withCleanup, type ScenarioContext, type ScenarioReport } from './scenario.ts';
import { nowMs, sleep } from './stats.ts';

/**
 * Transactions committed in this database so far. Backends publish their
 * counters within about a second of going idle, hence the pause.
 */
async function transactions(db: pg.Client): Promise<number> {
  await sleep(1100);
  const r = await db.query<{ n: string }>(
    `SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`,
  );
  return Number(r.rows[0]!.n);
}

export type ThroughputPlan = { database: string; miners: number; jobs: number; batch: number; maxSeconds: number; target: number };

export function runThroughput(ctx: ScenarioContext, report: ScenarioReport, plan: ThroughputPlan): Promise<void> {
  return withCleanup(async (defer) => {
    const url = await ctx.pg.createDatabase(plan.database);
    defer(() => ctx.pg.dropDatabase(plan.database));
    const db = await connect(url);
    defer(() => db.end());
    const fleet = await createMiners(db, plan.miners);
    const api = await startApiProcess(url, ctx.apiEnv);
    defer(() => api.stop());
    const business = await createBusiness(api.url, benchAdminToken);
    const refill = async () => {
      await insertQueuedJobs(db, business.id, plan.jobs);
      await db.query('VACUUM ANALYZE mia.jobs');
    };
    await refill();
    const meter = new CpuMeter(() => [api.pid], ctx.pg.postmasterPid);
    const per = plan.batch === 1 ? 'GET /job/next + POST /job/result' : `GET /jobs/next?max_jobs=${plan.batch} + POST /jobs/results`;
    ctx.progress(`HTTP: ${plan.miners} miners × (${per}), ${plan.jobs} jobs`);

    const clients = fleet.map(() => new HttpClient(api.url));
    const txBefore = await transactions(db);
    let done = 0;
    let end = 0;
    const deadline = nowMs() + plan.maxSeconds * 1000;
    meter.begin();
    const start = nowMs();
    await Promise.all(
      fleet.map((miner, i) =>
        runMinerLoop({
          client: clients[i]!,
          miner,
          batch: plan.batch,
          waitSeconds: 1,
          shouldStop: () => done >= plan.jobs,
          deadline,
          onCompleted: (n) => {
            done += n;
            end = nowMs();
          },
        }),
      ),
    );
    report.cpu['HTTP'] = meter.end();
    for (const c of clients) c.close();
    const seconds = (end - start) / 1000;
    const http: ThroughputResult = { jobs: done, seconds, jobsPerSecond: done / seconds, complete: done >= plan.jobs };
    const txPerJob = ((await transactions(db)) - txBefore - 1) / Math.max(1, done);
    await api.stop();
    await ctx.pg.reportStatements(plan.database, 'HTTP phase');

    ctx.progress(`baseline: our claim/complete SQL through pg, ${plan.miners} connections, batch ${plan.batch}`);
    await refill();
    meter.begin();
    const mia = await miaSqlLoop(url, { miners: fleet, jobs: plan.jobs, batch: plan.batch, maxSeconds: plan.maxSeconds });
    report.cpu['MIA SQL via pg'] = meter.end();

    ctx.progress(`baseline: raw SKIP LOCKED loop, ${plan.miners} connections, batch ${plan.batch}`);
    meter.begin();
    const raw = await rawSqlLoop(url, { concurrency: plan.miners, jobs: plan.jobs, batch: plan.batch, maxSeconds: plan.maxSeconds });
    report.cpu['raw SQL loop'] = meter.end();

    ctx.progress(`baseline: the raw loop through Express 5 + pg (the stack's floor), ${plan.miners} clients, batch ${plan.batch}`);
    let floorPid = 0;
    const floorMeter = new CpuMeter(() => (floorPid ? [floorPid] : []), ctx.pg.postmasterPid);
    const floor = await stackFloorLoop(url, {
      concurrency: plan.miners,
      jobs: plan.jobs,
      batch: plan.batch,
      maxSeconds: plan.maxSeconds,
      onServer: (pid) => {
        floorPid = pid;
        floorMeter.begin();
      },
      onFinished: () => (report.cpu['stack floor (Express 5 + pg)'] = floorMeter.end()),
    });

    const localQueueSize = plan.batch > 1 ? plan.batch * plan.miners : undefined;
    ctx.progress(`baseline: graphile-worker, concurrency ${plan.miners}${localQueueSize ? `, localQueue ${localQueueSize}` : ''}`);
    meter.begin();
    const graphile = await graphileThroughput(url, { concurrency: plan.miners, jobs: plan.jobs, maxSeconds: plan.maxSeconds, localQueueSize });
    report.cpu['graphile-worker'] = meter.end();

    const label = plan.batch === 1 ? 'HTTP jobs/s, 1 job per request' : `HTTP jobs/s, batch ${plan.batch}`;
    const met = http.jobsPerSecond >= plan.target;
    const target = `≥ ${plan.target.toLocaleString('en-US')} jobs/s`;
    report.rows.push(
      { measure: label, value: http.jobsPerSecond, unit: 'jobs/s', baseline: { name: `raw SQL loop (batch ${plan.batch})`, value: raw.jobsPerSecond }, better: 'higher', target, met },
      { measure: label, value: http.jobsPerSecond, unit: 'jobs/s', baseline: { name: `graphile-worker${localQueueSize ? ` (localQueue ${localQueueSize})` : ''}`, value: graphile.jobsPerSecond }, better: 'higher' },
      { measure: label, value: http.jobsPerSecond, unit: 'jobs/s', baseline: { name: 'our SQL via pg, no HTTP', value: mia.jobsPerSecond }, better: 'higher' },
      // The raw loop through Express 5 + pg: the most an HTTP path on this stack and machine reaches.
      { measure: label, value: http.jobsPerSecond, unit: 'jobs/s', baseline: { name: 'stack floor: the raw loop through Express 5 + pg', value: floor.jobsPerSecond }, better: 'higher' },
    );
    report.notes.push(`HTTP: ${txPerJob.toFixed(2)} database transactions per job (pg_stat_database)`);
    report.notes.push(`stack floor: ${(floor.jobsPerSecond / raw.jobsPerSecond).toFixed(2)}× the raw SQL loop (the most the HTTP path can reach on this stack and machine)`);
    for (const [name, r] of [['HTTP', http], ['our SQL via pg', mia], ['raw SQL loop', raw], ['stack floor', floor], ['graphile-worker', graphile]] as const) {
      report.notes.push(
        `${name}: ${r.jobs} jobs in ${r.seconds.toFixed(2)} s = ${Math.round(r.jobsPerSecond)} jobs/s${r.complete ? '' : ' (INCOMPLETE: hit the time bound)'}`,
      );
    }
  });
}
