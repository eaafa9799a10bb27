// The yardsticks, run on the same database, in the same run, with the same
// concurrency as the HTTP scenarios they sit next to:
//  - rawSqlLoop: the textbook SKIP LOCKED claim/complete loop in node `pg`, on
//    a minimal table of its own (what SPEC §6 calls "a raw SKIP LOCKED loop");
//  - stackFloorLoop: the same loop through Express 5 + pg in its own process, with
//    none of our logic: the floor our HTTP path stands on; stackFloorDispatch: the
//    same server's LISTEN/NOTIFY long-poll, scenario 1's floor;
//  - miaSqlLoop: OUR claim and complete statements (sql/job_claim.sql,
//    sql/job_complete.sql, which credits what it completes) on mia.jobs, driven
//    directly by `pg`: the cost of our SQL without HTTP, auth, validation and JSON,
//    so HTTP overhead = the gap;
//  - graphile-worker 0.18 in-process, trivial task, default settings unless stated.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import { compileNamedParameters, sqlDirectory } from '../../api/db/defineQuery.ts';
import { connect } from './benchPostgres.ts';
import type { BenchMiner } from './fixtures.ts';
import { HttpClient } from './httpClient.ts';
import { stopChild } from './processes.ts';
import { prepareRawQueue, rawClaimSql, rawCompleteSql } from './rawQueue.ts';
import { nowMs, sleep } from './stats.ts';

export type ThroughputResult = { jobs: number; seconds: number; jobsPerSecond: number; complete: boolean };

function throughput(jobs: number, startMs: number, endMs: number, wanted: number): ThroughputResult {
  const seconds = (endMs - startMs) / 1000;
  return { jobs, seconds, jobsPerSecond: jobs / seconds, complete: jobs >= wanted };
}

function clients(url: string, n: number, applicationName: string): Promise<pg.Client[]> {
  return Promise.all(Array.from({ length: n }, () => connect(url, applicationName)));
}

/**
 * Runs `round` on every worker over and over until `jobs` are done or `maxSeconds` have
 * passed, timed from the start to the last completion. A round claims and completes once
 * and returns how many jobs it completed; 0 (the queue is empty) stops that worker.
 */
async function timedLoop<W>(
  workers: readonly W[],
  o: { jobs: number; maxSeconds: number },
  round: (worker: W, index: number) => Promise<number>,
): Promise<ThroughputResult> {
  let done = 0;
  const deadline = nowMs() + o.maxSeconds * 1000;
  const start = nowMs();
  let end = start;
  await Promise.all(
    workers.map(async (worker, i) => {
      while (done < o.jobs && nowMs() < deadline) {
        const completed = await round(worker, i);
        if (completed === 0) break;
        done += completed;
        end = nowMs();
      }
    }),
  );
  return throughput(done, start, end, o.jobs);
}

/** A fresh bench_raw_jobs table of `jobs` queued jobs (lib/rawQueue.ts). */
async function freshRawQueue(url: string, jobs: number): Promise<void> {
  const [setup] = await clients(url, 1, 'bench-raw-setup');
  await prepareRawQueue(setup!, jobs);
  await setup!.end();
}

export async function rawSqlLoop(
  url: string,
  o: { concurrency: number; jobs: number; batch: number; maxSeconds: number },
): Promise<ThroughputResult> {
  await freshRawQueue(url, o.jobs);
  const workers = await clients(url, o.concurrency, 'bench-raw');
  const result = await timedLoop(workers, o, async (c) => {
    const claimed = await c.query<{ id: string }>(rawClaimSql, [o.batch]);
    if (claimed.rowCount === 0) return 0;
    await c.query(rawCompleteSql, [claimed.rows.map((r) => r.id)]);
    return claimed.rowCount ?? 0;
  });
  await Promise.all(workers.map((c) => c.end()));
  return result;
}

type StackFloor = { url: string; pid: number; stop: () => Promise<void> };

/** lib/stackFloorServer.ts in its own process, as the API runs, once it listens. */
async function startStackFloor(url: string, connections: number): Promise<StackFloor> {
  const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./stackFloorServer.ts', import.meta.url))], {
    env: { ...process.env, NODE_ENV: 'production', FLOOR_DATABASE_URL: url, FLOOR_CONNECTIONS: String(connections) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      server.once('exit', (code) => reject(new Error(`stack floor server exited (${code}) before listening`)));
    });
    return { url: `http://127.0.0.1:${port}`, pid: server.pid!, stop: () => stopChild(server) };
  } catch (error) {
    await stopChild(server);
    throw error;
  }
}

/**
 * The raw loop through the stack: `concurrency` keep-alive clients claim and complete
 * through lib/stackFloorServer.ts (Express 5 + pg, the raw statements, no logic), in
 * its own process as the API runs. What HTTP costs on this machine before any of ours:
 * the most the API's HTTP path could reach. `onServer` gets the server's pid once it
 * listens and `onFinished` runs before it stops (a CPU meter's window).
 */
export async function stackFloorLoop(
  url: string,
  o: {
    concurrency: number;
    jobs: number;
    batch: number;
    maxSeconds: number;
    onServer?: (pid: number) => void;
    onFinished?: () => void;
  },
): Promise<ThroughputResult> {
  await freshRawQueue(url, o.jobs);
  const server = await startStackFloor(url, o.concurrency);
  try {
    o.onServer?.(server.pid);
    const http = Array.from({ length: o.concurrency }, () => new HttpClient(server.url));
    const result = await timedLoop(http, o, async (c) => {
      const claimed = await c.json<{ jobs: { id: string }[] } | undefined>('GET', `/next?max_jobs=${o.batch}`);
      if (!claimed.body) return 0;
      // The body a miner sends: an answer and its token count per job.
      const results = claimed.body.jobs.map((j) => ({ id: j.id, output: 'Your bike is ready.', tokens_generated: 5 }));
      await c.json('POST', '/done', { body: { results } });
      return results.length;
    });
    o.onFinished?.();
    for (const c of http) c.close();
    return result;
  } finally {
    await server.stop();
  }
}

/**
 * Dispatch through the stack (scenario 1's floor): `miners` keep-alive clients long-poll
 * lib/stackFloorServer.ts (GET /next?wait=30); one chat at a time is POSTed to it and
 * timed, as scenario 1 times ours, from just before POST /chat is sent to the moment a
 * miner has the job in hand; the miner completes it (POST /done) before the next chat.
 */
export async function stackFloorDispatch(
  url: string,
  o: { miners: number; jobs: number; maxSeconds: number; onServer?: (pid: number) => void; onFinished?: () => void },
): Promise<number[]> {
  await freshRawQueue(url, 0);
  const server = await startStackFloor(url, o.miners + 1);
  const expected = new Map<string, (at: number) => void>();
  const clientsOf = Array.from({ length: o.miners }, () => new HttpClient(server.url));
  const chatClient = new HttpClient(server.url);
  let stopping = false;
  let failure: unknown = null;
  const samples: number[] = [];
  const loops = clientsOf.map(async (c) => {
    try {
      while (!stopping) {
        const res = await c.request('GET', '/next?wait=30', { timeoutMs: 40_000 });
        const at = nowMs();
        if (res.status === 204) continue;
        if (res.status !== 200) throw new Error(`floor claim: ${res.status} ${res.text.slice(0, 200)}`);
        const [job] = (JSON.parse(res.text) as { jobs: { id: string; payload: { prompt: string } }[] }).jobs;
        await c.json('POST', '/done', { body: { results: [{ id: job!.id, output: 'Your bike is ready.', tokens_generated: 5 }] } });
        expected.get(job!.payload.prompt)?.(at);
      }
    } catch (error) {
      if (!stopping) failure ??= error;
    }
  });
  try {
    o.onServer?.(server.pid);
    await sleep(200); // let every miner park, as scenario 1 waits for its miners to
    const deadline = nowMs() + o.maxSeconds * 1000;
    for (let i = 0; i < o.jobs && nowMs() < deadline && !failure; i++) {
      const prompt = `dispatch ${i}`;
      const delivered = new Promise<number>((resolve) => expected.set(prompt, resolve));
      const t0 = nowMs();
      await chatClient.json('POST', '/chat', { body: { message: prompt } });
      const at = await Promise.race([delivered, sleep(10_000).then(() => Number.NaN)]);
      expected.delete(prompt);
      if (Number.isNaN(at)) throw new Error(`stack floor: job ${i} was not delivered within 10 s`);
      samples.push(at - t0);
    }
    o.onFinished?.();
  } finally {
    stopping = true;
    chatClient.close();
    for (const c of clientsOf) c.close();
    await Promise.allSettled(loops);
    await server.stop();
  }
  if (failure) throw failure;
  return samples;
}

function loadStatement(name: string): { text: string; bind: (params: Record<string, unknown>) => unknown[] } {
  const { sql, names } = compileNamedParameters(readFileSync(new URL(`${name}.sql`, sqlDirectory), 'utf8'));
  // A parameter added to the statement must fail here, not run as NULL.
  const bind = (params: Record<string, unknown>) =>
    names.map((n) => {
      if (params[n] === undefined) throw new Error(`sql/${name}.sql: parameter :${n} not given`);
      return params[n];
    });
  return { text: sql, bind };
}

/** Our own claim/complete SQL through plain `pg`, one miner per connection. Jobs must already be queued. */
export async function miaSqlLoop(
  url: string,
  o: { miners: readonly BenchMiner[]; jobs: number; batch: number; maxSeconds: number },
): Promise<ThroughputResult> {
  const claim = loadStatement('job_claim');
  const complete = loadStatement('job_complete');
  const workers = await clients(url, o.miners.length, 'bench-mia-sql');
  const result = await timedLoop(workers, o, async (c, i) => {
    const miner = o.miners[i]!;
    // As api/store/jobs.ts claims: one call of mia.claim_jobs (the miner's claim lock, then the claim).
    // Named, as the API prepares each statement (api/db/defineQuery.ts): planned once per connection.
    const claimed = await c.query<{ job_id: string; lease_token: string }>({
      name: 'mia_job_claim',
      text: claim.text,
      values: claim.bind({ miner_ids: Array<string>(o.batch).fill(miner.id), lease_base_s: 30, lease_ms_per_token: 100, retry_avoid_s: 60, probation_jobs: 0, probation_slots: 1, probation_free_drops: 10, hold_hours: 24 }),
    });
    if (claimed.rowCount === 0) return 0;
    const results = claimed.rows.map((r) => ({
      job_id: r.job_id,
      lease_token: r.lease_token,
      output: 'Your bike is ready.',
      tool_calls: null,
      tokens_generated: 5,
      prompt_tokens: null,
      // As the API sends it once the plausibility checks accepted the figures: stored and credited.
      verdict: { tokens: 5, prompt_tokens: 0, reason: null, figures: null },
    }));
    const completed = await c.query({
      name: 'mia_job_complete',
      text: complete.text,
      values: complete.bind({ miner_id: miner.id, results: JSON.stringify(results) }),
    });
    return completed.rowCount ?? 0;
  });
  await Promise.all(workers.map((c) => c.end()));
  return result;
}

const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
});

/**
 * graphile-worker's own throughput: `jobs` trivial jobs added up front, then a
 * runner with `concurrency` works through them; timed from the first job
 * started to the last completed. `localQueueSize` > 1 turns on its batch
 * fetching (its counterpart of our batch claim).
 */
export async function graphileThroughput(
  url: string,
  o: { concurrency: number; jobs: number; maxSeconds: number; localQueueSize?: number },
): Promise<ThroughputResult> {
  await runMigrations({ connectionString: url, logger: quietLogger });
  const utils = await makeWorkerUtils({ connectionString: url, logger: quietLogger });
  try {
    await utils.withPgClient((c) => c.query(`DELETE FROM graphile_worker._private_jobs`));
    for (let added = 0; added < o.jobs; added += 10_000) {
      const n = Math.min(10_000, o.jobs - added);
      await utils.addJobs(Array.from({ length: n }, (_, i) => ({ identifier: 'bench_noop', payload: { n: added + i } })));
    }
  } finally {
    await utils.release();
  }

  let done = 0;
  let first = 0;
  let last = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const runner = await run({
    connectionString: url,
    concurrency: o.concurrency,
    noHandleSignals: true,
    logger: quietLogger,
    taskList: {
      bench_noop: async () => {
        if (first === 0) first = nowMs();
        done += 1;
        last = nowMs();
        if (done >= o.jobs) finished();
      },
    },
    preset: {
      worker: o.localQueueSize && o.localQueueSize > 1 ? { localQueue: { size: o.localQueueSize }, completeJobBatchDelay: 0 } : {},
    },
  });
  await Promise.race([allDone, sleep(o.maxSeconds * 1000)]);
  // The last completion is recorded by the worker a moment after the task returns.
  await sleep(50);
  await runner.stop();
  await runner.promise.catch(() => {});
  return throughput(done, first || nowMs(), last || nowMs(), o.jobs);
}

/** graphile-worker add → task start latency: one job at a time, `concurrency` idle workers waiting. */
export async function graphileLatency(url: string, o: { concurrency: number; jobs: number; maxSeconds: number }): Promise<number[]> {
  await runMigrations({ connectionString: url, logger: quietLogger });
  const utils = await makeWorkerUtils({ connectionString: url, logger: quietLogger });
  const started = new Map<number, (at: number) => void>();
  const runner = await run({
    connectionString: url,
    concurrency: o.concurrency,
    noHandleSignals: true,
    logger: quietLogger,
    taskList: {
      bench_latency: async (payload) => {
        const at = nowMs();
        started.get((payload as { i: number }).i)?.(at);
      },
    },
  });
  const samples: number[] = [];
  const deadline = nowMs() + o.maxSeconds * 1000;
  try {
    await sleep(200); // let the pool's LISTEN settle, as a long-running worker would be
    for (let i = 0; i < o.jobs && nowMs() < deadline; i++) {
      const startedAt = new Promise<number>((resolve) => started.set(i, resolve));
      const t0 = nowMs();
      await utils.addJob('bench_latency', { i });
      const at = await Promise.race([startedAt, sleep(5000).then(() => Number.NaN)]);
      started.delete(i);
      if (!Number.isNaN(at)) samples.push(at - t0);
    }
  } finally {
    await runner.stop();
    await runner.promise.catch(() => {});
    await utils.release();
  }
  return samples;
}
