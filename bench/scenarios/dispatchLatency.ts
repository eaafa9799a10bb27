// 1. Dispatch latency: N miners long-poll GET /job/next; a business sends
// POST /chat with wait 0; measured from just before the chat request is sent
// to the moment a miner has the whole job response in hand. One chat at a
// time (a closed loop), so this is latency, not load. Run twice: the chat sent
// to the miners' own API process, and to a second API process (the wake-up
// then crosses Postgres NOTIFY). Baselines, on the same database: graphile-worker's
// add → task start latency with as many idle workers, and the stack's floor: the same
// closed loop through Express 5 + pg with a LISTEN/NOTIFY long-poll and the raw SKIP
// LOCKED statements, none of our logic (lib/stackFloorServer.ts).
import { benchAdminToken, startApiProcess, type ApiProcess } from '../lib/apiProcess.ts';
import { connect } from '../lib/benchPostgres.ts';
import { graphileLatency, stackFloorDispatch } from '../lib/baselines.ts';
import { CpuMeter } from '../lib/cpu.ts';
import { createBusiness, createMiners, type BenchBusiness, type BenchMiner } from '../lib/fixtures.ts';
import { HttpClient } from '../lib/httpClient.ts';
import { resultOf, type ClaimedJob } from '../lib/minerSim.ts';
import { withCleanup, type Scenario, type ScenarioContext, type ScenarioReport } from '../lib/scenario.ts';
import { nowMs, sleep, summarize } from '../lib/stats.ts';

const miners = 8;

async function waitParked(api: ApiProcess, count: number, timeoutMs: number): Promise<void> {
  const client = new HttpClient(api.url);
  const deadline = nowMs() + timeoutMs;
  try {
    while (nowMs() < deadline) {
      const res = await client.json<{ parked_long_polls?: { job_next: number } }>('GET', '/metrics');
      if ((res.body.parked_long_polls?.job_next ?? count) >= count) return;
      await sleep(20);
    }
  } finally {
    client.close();
  }
}

async function measure(
  minerApi: ApiProcess,
  chatApi: ApiProcess,
  business: BenchBusiness,
  fleet: readonly BenchMiner[],
  jobs: number,
  maxSeconds: number,
): Promise<{ dispatch: number[]; chat: number[] }> {
  const expected = new Map<string, (at: number) => void>();
  let stopping = false;
  let failure: unknown = null;
  const clients = fleet.map(() => new HttpClient(minerApi.url));
  const loops = fleet.map(async (miner, i) => {
    const client = clients[i]!;
    try {
      while (!stopping) {
        const res = await client.request('GET', `/job/next?miner_id=${miner.id}&wait=30`, { token: miner.key, timeoutMs: 40_000 });
        const at = nowMs();
        if (res.status === 204) continue;
        if (res.status !== 200) throw new Error(`claim: ${res.status} ${res.text.slice(0, 200)}`);
        const job = JSON.parse(res.text) as ClaimedJob;
        const result = await client.request('POST', '/job/result', { token: miner.key, body: { ...resultOf(job), miner_id: miner.id } });
        if (result.status !== 200) throw new Error(`result: ${result.status} ${result.text.slice(0, 200)}`);
        expected.get(job.prompt)?.(at);
      }
    } catch (error) {
      if (!stopping) failure ??= error;
    }
  });

  const chatClient = new HttpClient(chatApi.url);
  const dispatch: number[] = [];
  const chat: number[] = [];
  const deadline = nowMs() + maxSeconds * 1000;
  try {
    await waitParked(minerApi, fleet.length, 10_000);
    for (let i = 0; i < jobs && nowMs() < deadline && !failure; i++) {
      const prompt = `dispatch ${i}`;
      // Resolved once the miner has the job AND has posted its result, so the
      // next chat never overlaps this job's completion; the time is taken on receipt.
      const delivered = new Promise<number>((resolve) => expected.set(prompt, resolve));
      const t0 = nowMs();
      const res = await chatClient.request('POST', '/chat', { token: business.apiKey, body: { message: prompt, wait: 0 } });
      chat.push(nowMs() - t0);
      if (res.status !== 202 && res.status !== 200) throw new Error(`POST /chat: ${res.status} ${res.text.slice(0, 200)}`);
      const at = await Promise.race([delivered, sleep(10_000).then(() => Number.NaN)]);
      expected.delete(prompt);
      if (Number.isNaN(at)) throw new Error(`job ${i} was not delivered within 10 s`);
      dispatch.push(at - t0);
    }
  } finally {
    stopping = true;
    chatClient.close();
    // Hanging up ends the parked long-polls; the API releases anything they had claimed.
    for (const client of clients) client.close();
    await Promise.allSettled(loops);
  }
  if (failure) throw failure;
  return { dispatch, chat };
}

export const dispatchLatency: Scenario = {
  id: '1-dispatch',
  title: `Dispatch latency: POST /chat (wait 0) → job in a long-polling miner's hands (${miners} miners)`,
  run: (ctx: ScenarioContext, report: ScenarioReport) =>
    withCleanup(async (defer) => {
      const jobs = ctx.quick ? 200 : 2000;
      const url = await ctx.pg.createDatabase('mia_bench_dispatch');
      defer(() => ctx.pg.dropDatabase('mia_bench_dispatch'));
      const db = await connect(url);
      const fleet = await createMiners(db, miners);
      await db.end();

      const apiA = await startApiProcess(url, ctx.apiEnv);
      defer(() => apiA.stop());
      // A second replica, as SPEC §1 says to run them: maintenance worker off.
      const apiB = await startApiProcess(url, { ...ctx.apiEnv, MIA_WORKER: 'off' });
      defer(() => apiB.stop());
      const business = await createBusiness(apiA.url, benchAdminToken);
      const meter = new CpuMeter(() => [apiA.pid, apiB.pid], ctx.pg.postmasterPid);

      for (const [label, chatApi] of [['same API process', apiA], ['chat to a 2nd API process', apiB]] as const) {
        ctx.progress(`${label}: ${jobs} chats, one at a time`);
        meter.begin();
        const { dispatch, chat } = await measure(apiA, chatApi, business, fleet, jobs, ctx.quick ? 20 : 60);
        report.cpu[label] = meter.end();
        const s = summarize(dispatch);
        const c = summarize(chat);
        report.rows.push(
          { measure: `dispatch p50, ${label}`, value: s.p50, unit: 'ms', target: '≤ 3 ms', met: s.p50 <= 3, better: 'lower' },
          { measure: `dispatch p95, ${label}`, value: s.p95, unit: 'ms', better: 'lower' },
          { measure: `dispatch p99, ${label}`, value: s.p99, unit: 'ms', target: '≤ 10 ms', met: s.p99 <= 10, better: 'lower' },
        );
        report.notes.push(
          `${label}: ${s.n} jobs; dispatch mean ${s.mean.toFixed(2)} ms, max ${s.max.toFixed(1)} ms; ` +
            `POST /chat (wait 0) response p50 ${c.p50.toFixed(2)} ms, p99 ${c.p99.toFixed(2)} ms`,
        );
      }
      await apiB.stop();
      await apiA.stop();

      ctx.progress(`baseline: graphile-worker add → start, ${miners} workers, ${jobs} jobs`);
      meter.begin();
      const g = summarize(await graphileLatency(url, { concurrency: miners, jobs, maxSeconds: ctx.quick ? 20 : 60 }));
      report.cpu['graphile-worker'] = meter.end();
      const ours = report.rows;
      for (const row of ours) {
        const key = row.measure.startsWith('dispatch p50') ? 'p50' : row.measure.startsWith('dispatch p95') ? 'p95' : 'p99';
        row.baseline = { name: `graphile-worker add→start ${key}`, value: g[key] };
      }
      report.notes.push(`graphile-worker 0.18 add→start (in-process, ${miners} workers): ${g.n} jobs, p50 ${g.p50.toFixed(2)} ms, p99 ${g.p99.toFixed(2)} ms`);

      ctx.progress(`baseline: the stack's floor (Express 5 + pg, LISTEN/NOTIFY long-poll, raw SKIP LOCKED), ${miners} miners, ${jobs} chats`);
      let floorPid = 0;
      const floorMeter = new CpuMeter(() => (floorPid ? [floorPid] : []), ctx.pg.postmasterPid);
      const f = summarize(
        await stackFloorDispatch(url, {
          miners,
          jobs,
          maxSeconds: ctx.quick ? 20 : 60,
          onServer: (pid) => {
            floorPid = pid;
            floorMeter.begin();
          },
          onFinished: () => (report.cpu['stack floor (Express 5 + pg)'] = floorMeter.end()),
        }),
      );
      // The least an HTTP dispatch does on this stack and machine: beside ours, same process.
      for (const key of ['p50', 'p99'] as const) {
        const same = ours.find((row) => row.measure === `dispatch ${key}, same API process`)!;
        report.rows.push({ measure: same.measure, value: same.value, unit: 'ms', better: 'lower', baseline: { name: `stack floor: NOTIFY long-poll through Express 5 + pg ${key}`, value: f[key] } });
      }
      report.notes.push(`stack floor (Express 5 + pg, LISTEN/NOTIFY long-poll, raw SKIP LOCKED, no logic): ${f.n} chats, p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms`);
    }),
};
