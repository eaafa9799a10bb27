// 4. Idle long-polls: W miners (one parked GET /job/next each, own socket)
// on ONE API process. Measured while they wait: Postgres connections the API
// holds (pg_stat_activity, application_name 'mia-api%'), API resident memory
// (/proc/<pid>/status). Then a burst of W jobs inserted in one statement:
// every waiter must get one, and the time from commit to delivery is measured.
// Miners are rows written by SQL (10,000 registrations over HTTP would be a
// benchmark of its own); each has its own key, so auth is per miner.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type pg from 'pg';
import { benchAdminToken, startApiProcess } from '../lib/apiProcess.ts';
import { connect } from '../lib/benchPostgres.ts';
import { CpuMeter } from '../lib/cpu.ts';
import { createBusiness, createMiners, insertQueuedJobs } from '../lib/fixtures.ts';
import { HttpClient } from '../lib/httpClient.ts';
import { withCleanup, type Scenario } from '../lib/scenario.ts';
import { nowMs, sleep, summarize } from '../lib/stats.ts';

function softFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s{2,}/)[1] ?? 1024);
}

type ApiConnections = { total: number; active: number };

async function apiConnections(db: pg.Client): Promise<ApiConnections> {
  const r = await db.query<{ total: number; active: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE state = 'active')::int AS active
     FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'mia-api%'`,
  );
  return r.rows[0]!;
}

export const idleLongPolls: Scenario = {
  id: '4-idle',
  title: 'Idle long-polls on one API process: DB connections, memory, then a burst',
  run: (ctx, report) =>
    withCleanup(async (defer) => {
      let waiters = ctx.quick ? 1000 : 10_000;
      // Each waiter is one socket here and one in the API (separate processes, separate limits).
      const limit = softFileLimit();
      if (waiters + 200 > limit) {
        report.notes.push(`open-file limit ${limit} (ulimit -n) caps the waiters at ${limit - 200} instead of ${waiters}`);
        waiters = limit - 200;
      }
      const url = await ctx.pg.createDatabase('mia_bench_idle');
      defer(() => ctx.pg.dropDatabase('mia_bench_idle'));
      const db = await connect(url);
      defer(() => db.end());
      const fleet = await createMiners(db, waiters);

      const api = await startApiProcess(url, ctx.apiEnv);
      defer(() => api.stop());
      const business = await createBusiness(api.url, benchAdminToken);
      const meter = new CpuMeter(() => [api.pid], ctx.pg.postmasterPid);
      const before = api.memory();
      const metricsClient = new HttpClient(api.url);
      defer(() => metricsClient.close());
      const parked = async () =>
        (await metricsClient.json<{ parked_long_polls?: { job_next: number } }>('GET', '/metrics')).body.parked_long_polls?.job_next ?? -1;

      // One socket per waiter, kept open, as each real miner has its own.
      const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
      const client = new HttpClient(api.url, agent);
      defer(() => client.close());
      let delivering = false;
      let t0 = 0;
      let stopping = false;
      const latencies: number[] = [];
      const errors: string[] = [];
      let reparks = 0;
      const deadline = nowMs() + (ctx.quick ? 30_000 : 120_000);
      const waitOne = async (i: number) => {
        const miner = fleet[i]!;
        while (!stopping && nowMs() < deadline) {
          try {
            const res = await client.request('GET', `/job/next?miner_id=${miner.id}&wait=60`, { token: miner.key, timeoutMs: 70_000 });
            if (res.status === 200) {
              latencies.push(nowMs() - t0);
              if (!delivering) errors.push('a job arrived before the burst');
              return;
            }
            if (res.status !== 204) throw new Error(`${res.status} ${res.text.slice(0, 200)}`);
            reparks += 1;
          } catch (error) {
            if (!stopping) errors.push(String(error));
            return;
          }
        }
      };

      ctx.progress(`parking ${waiters} long-polls (ramp of 500 at a time)`);
      meter.begin();
      const rampStart = nowMs();
      const loops: Promise<void>[] = [];
      for (let i = 0; i < waiters; i += 500) {
        for (let j = i; j < Math.min(waiters, i + 500); j++) loops.push(waitOne(j));
        // Let this step's connections be accepted and parked before opening more.
        const want = Math.min(waiters, i + 500);
        const stepDeadline = nowMs() + 10_000;
        for (let n = await parked(); n !== -1 && n < want && nowMs() < stepDeadline; n = await parked()) await sleep(20);
      }
      const rampSeconds = (nowMs() - rampStart) / 1000;
      report.cpu['parking'] = meter.end();
      const parkedNow = await parked();
      await sleep(1000); // idle: nothing but parked requests
      meter.begin();
      await sleep(ctx.quick ? 1000 : 3000);
      report.cpu['idle'] = meter.end();
      const idleConnections = await apiConnections(db);
      const idleMemory = api.memory();

      ctx.progress(`burst: ${waiters} jobs in one INSERT`);
      let maxConnections = idleConnections.total;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          maxConnections = Math.max(maxConnections, (await apiConnections(db)).total);
          await sleep(50);
        }
      })();
      meter.begin();
      delivering = true;
      const burstStart = nowMs();
      // Timed from the INSERT's commit: that is when NOTIFY goes out.
      const inserter = await connect(url);
      defer(() => inserter.end());
      t0 = nowMs();
      const insertStarted = t0;
      await insertQueuedJobs(inserter, business.id, waiters, 'burst');
      t0 = nowMs();
      const insertMs = t0 - insertStarted;
      const burstDeadline = nowMs() + (ctx.quick ? 15_000 : 30_000);
      while (latencies.length < waiters && nowMs() < burstDeadline && errors.length === 0) await sleep(10);
      const allIn = nowMs() - t0;
      report.cpu['burst'] = meter.end();
      sampling = false;
      await sampler;
      const burstMemory = api.memory();
      stopping = true;
      client.close();
      await Promise.allSettled(loops);

      const s = summarize(latencies);
      report.rows.push(
        { measure: `Postgres connections held by the API, ${waiters} parked`, value: idleConnections.total, unit: 'conns', target: '≤ 20', met: idleConnections.total <= 20, better: 'lower' },
        { measure: `…peak during the burst`, value: maxConnections, unit: 'conns', target: '≤ 20', met: maxConnections <= 20, better: 'lower' },
        { measure: `API RSS, ${waiters} parked`, value: idleMemory.rssMiB, unit: 'MiB', baseline: { name: 'same process before any miner', value: before.rssMiB }, target: '≤ 300 MB', met: idleMemory.rssMiB * 1.048576 <= 300, better: 'lower' },
        { measure: `API peak RSS (VmHWM) through the burst`, value: burstMemory.peakMiB, unit: 'MiB', target: '≤ 300 MB', met: burstMemory.peakMiB * 1.048576 <= 300, better: 'lower' },
        { measure: `burst: jobs delivered`, value: latencies.length, unit: `of ${waiters}`, met: latencies.length === waiters },
        { measure: `burst: commit → in hands p50`, value: s.p50, unit: 'ms', better: 'lower' },
        { measure: `burst: commit → in hands p99`, value: s.p99, unit: 'ms', better: 'lower' },
        { measure: `burst: commit → last delivered`, value: s.max, unit: 'ms', better: 'lower' },
      );
      report.notes.push(
        `${waiters} waiters parked in ${rampSeconds.toFixed(1)} s (API reported ${parkedNow} parked); ${idleConnections.active} API connections active while idle; ${reparks} long-polls timed out and re-parked`,
        `burst INSERT of ${waiters} jobs took ${insertMs.toFixed(0)} ms; all delivered ${allIn.toFixed(0)} ms after commit (${(waiters / (allIn / 1000)).toFixed(0)} jobs/s); ` +
          `burst started ${(t0 - burstStart).toFixed(0)} ms before commit`,
        `API RSS: ${before.rssMiB.toFixed(0)} MiB at start, ${idleMemory.rssMiB.toFixed(0)} MiB with ${waiters} parked, ${burstMemory.rssMiB.toFixed(0)} MiB after the burst (peak ${burstMemory.peakMiB.toFixed(0)} MiB)`,
      );
      if (errors.length > 0) throw new Error(`${errors.length} waiter errors, first: ${errors[0]}`);
    }),
};
