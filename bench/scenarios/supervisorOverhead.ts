// 7. Supervisor overhead: aggregate tokens/s of the same llama-server (same
// binary, model, -np slots and -c), (a) driven directly by `slots` concurrent
// clients calling /v1/chat/completions, (b) through `mia-miner run`, which
// spawns it itself and runs one job loop per slot against the API.
// (a) is timed from the first request to the last response; (b) from the moment
// the jobs are queued (after the warm-up jobs are done) to the last completion
// (completed_at in mia.jobs), so every claim, result post and wait between jobs
// counts against it. Not from the first claimed_at: a miner that claims ahead takes
// jobs while the warm-up still runs, which would put warm-up time in the window.
//
// Server: the real llama-server when LLAMA_SERVER_BIN and LLAMA_MODEL are set
// (e.g. /root/.cache/llama/src/build/bin/llama-server with
// a small GGUF such as tiny-random-llama.gguf; LLAMA_ARGS adds flags
// such as "-t 2"); otherwise the test double test/fixtures/fake-llama-server,
// which generates at a fixed FAKE_LLAMA_TOKENS_PER_SECOND per request: 120 unless set,
// the pace of a 7B model on one H200 (issue 18: 475–485 tok/s over 4 slots), so a job
// lasts about a second, as on a GPU. A much faster double (say 2000) makes the
// per-job cost of claiming and reporting look larger than any GPU would.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchAdminToken, benchEnrolmentToken, startApiProcess } from '../lib/apiProcess.ts';
import { connect } from '../lib/benchPostgres.ts';
import { createBusiness, insertQueuedJobs, typicalMessages } from '../lib/fixtures.ts';
import { HttpClient } from '../lib/httpClient.ts';
import { withCleanup, type Scenario } from '../lib/scenario.ts';
import { nowMs, sleep } from '../lib/stats.ts';
import { chooseLlamaServer } from '../lib/llamaServerChoice.ts';
import { freePort, stopChild } from '../lib/processes.ts';

const slots = 4;
const ctxPerSlot = 1024;
// MIA_BENCH_MINER_BIN runs another build of the miner (say, an older commit's) against the same API.
const minerBin = process.env.MIA_BENCH_MINER_BIN ?? 'miner/bin/mia-miner.js';

export const supervisorOverhead: Scenario = {
  id: '7-supervisor',
  title: `Supervisor overhead: tokens/s through mia-miner vs the same llama-server driven directly (${slots} slots)`,
  run: (ctx, report) =>
    withCleanup(async (defer) => {
      if (!existsSync(minerBin)) {
        report.skipped = `${minerBin} is not there yet (the miner supervisor is being written)`;
        return;
      }
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'mia-bench-miner-'));
      defer(() => rmSync(tmp, { recursive: true, force: true }));
      const pace = process.env.FAKE_LLAMA_TOKENS_PER_SECOND ?? '120';
      const choice = chooseLlamaServer(tmp, `fake-llama-server (test double, ${pace} tok/s per request)`);
      // The double's pace, for both runs (the miner passes its environment to the server it spawns).
      const serverEnv = { ...process.env, FAKE_LLAMA_TOKENS_PER_SECOND: pace };
      if ('skipped' in choice) {
        report.skipped = choice.skipped;
        return;
      }
      const { bin, model, extra, label: serverLabel } = choice;
      const perSlot = ctx.quick ? 8 : 30;
      const maxTokens = ctx.quick ? 64 : 128;
      const jobs = perSlot * slots;
      const maxMs = (ctx.quick ? 20 : 90) * 1000;

      // (a) llama-server driven directly.
      ctx.progress(`(a) ${serverLabel} directly: ${slots} clients × ${perSlot} completions of ${maxTokens} tokens`);
      const port = await freePort();
      const server = spawn(bin, ['--host', '127.0.0.1', '--port', String(port), '-m', model, '-ngl', '0', '-np', String(slots), '-c', String(slots * ctxPerSlot), '--metrics', ...extra], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: serverEnv,
      });
      let serverLog = '';
      server.stderr!.on('data', (c: Buffer) => (serverLog = (serverLog + c.toString()).slice(-4000)));
      defer(() => stopChild(server));
      const llama = new HttpClient(`http://127.0.0.1:${port}`, new (await import('node:http')).Agent({ keepAlive: true, maxSockets: slots }));
      defer(() => llama.close());
      const ready = nowMs() + 120_000;
      for (;;) {
        const health = await llama.request('GET', '/health').catch(() => null);
        if (health?.status === 200) break;
        if (server.exitCode !== null || nowMs() > ready) throw new Error(`llama-server did not become healthy:\n${serverLog}`);
        await sleep(100);
      }
      const messages = JSON.parse(typicalMessages('Hello, when can I pick up my bike?')) as unknown[];
      const complete = async () => {
        const res = await llama.request('POST', '/v1/chat/completions', {
          body: { messages, max_tokens: maxTokens, temperature: 0.7 },
          timeoutMs: 120_000,
        });
        if (res.status !== 200) throw new Error(`llama-server: ${res.status} ${res.text.slice(0, 200)}`);
        return (JSON.parse(res.text) as { usage: { completion_tokens: number } }).usage.completion_tokens;
      };
      // Warm-up (one completion per slot), untimed; (b) gets the same, see below.
      await Promise.all(Array.from({ length: slots }, complete));
      let directTokens = 0;
      let started = 0;
      const directDeadline = nowMs() + maxMs;
      const directStart = nowMs();
      await Promise.all(
        Array.from({ length: slots }, async () => {
          while (started < jobs && nowMs() < directDeadline) {
            started += 1;
            const tokens = await complete();
            directTokens += tokens;
          }
        }),
      );
      const directSeconds = (nowMs() - directStart) / 1000;
      const directRate = directTokens / directSeconds;
      llama.close();
      await stopChild(server);

      // (b) the same work through the API and mia-miner.
      ctx.progress(`(b) through mia-miner: ${jobs} jobs of max_tokens ${maxTokens}, --slots ${slots}`);
      const url = await ctx.pg.createDatabase('mia_bench_supervisor');
      defer(() => ctx.pg.dropDatabase('mia_bench_supervisor'));
      const db = await connect(url);
      defer(() => db.end());
      const api = await startApiProcess(url, ctx.apiEnv);
      defer(() => api.stop());
      const business = await createBusiness(api.url, benchAdminToken);
      // The first `slots` jobs are the warm-up and are not timed; the timed ones are queued once they are done.
      await insertQueuedJobs(db, business.id, slots, 'warmup', maxTokens);
      const miner = spawn(
        process.execPath,
        [minerBin, 'run', '--backend-url', api.url, '--name', 'bench-miner', '--llama-server', bin, '--model', model,
          '--gpu-layers', '0', '--slots', String(slots), '--ctx-per-slot', String(ctxPerSlot), '--state-dir', tmp,
          '--log-level', 'warn', ...(extra.length ? [`--llama-args=${extra.join(' ')}`] : [])],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...serverEnv, MIA_ENROLMENT_TOKEN: benchEnrolmentToken } },
      );
      let minerLog = '';
      const keep = (c: Buffer) => (minerLog = (minerLog + c.toString()).slice(-4000));
      miner.stdout!.on('data', keep);
      miner.stderr!.on('data', keep);
      defer(() => stopChild(miner, 'SIGTERM', 30_000));
      const count = async (tag: string) =>
        Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM mia.jobs WHERE status = 'completed' AND session_id LIKE $1`, [`${tag}-%`])).rows[0]!.n);
      const warmDeadline = nowMs() + 120_000; // llama-server start-up
      while ((await count('warmup')) < slots) {
        if (miner.exitCode !== null) throw new Error(`mia-miner exited (${miner.exitCode}):\n${minerLog}`);
        if (nowMs() > warmDeadline) throw new Error(`the warm-up jobs did not complete:\n${minerLog}`);
        await sleep(200);
      }
      const queuedAt = (await db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
      await insertQueuedJobs(db, business.id, jobs, 'supervised', maxTokens);
      const minerDeadline = nowMs() + maxMs;
      let done = 0;
      while (done < jobs && nowMs() < minerDeadline) {
        if (miner.exitCode !== null) throw new Error(`mia-miner exited (${miner.exitCode}):\n${minerLog}`);
        await sleep(200);
        done = await count('supervised');
      }
      const r = await db.query<{ tokens: string; seconds: number }>(
        `SELECT sum(tokens_generated) AS tokens, extract(epoch FROM max(completed_at) - $1::timestamptz)::float8 AS seconds
         FROM mia.jobs WHERE status = 'completed' AND session_id LIKE 'supervised-%'`,
        [queuedAt],
      );
      // The slot timeline from the database: the k-th result in hand (completed_at) against the
      // claim of the job that took its slot (the (k + slots)-th claimed_at). Positive: the slot
      // waited for a claim after its result was posted; negative: the job was claimed ahead.
      const handoff = await db.query<{ p50: number; p95: number }>(
        `WITH c AS (SELECT claimed_at, row_number() OVER (ORDER BY claimed_at) AS k FROM mia.jobs WHERE session_id LIKE 'supervised-%'),
              d AS (SELECT completed_at, row_number() OVER (ORDER BY completed_at) AS k FROM mia.jobs WHERE session_id LIKE 'supervised-%'),
              gap AS (SELECT extract(epoch FROM c.claimed_at - d.completed_at) * 1000 AS ms FROM d JOIN c ON c.k = d.k + $1)
         SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8 AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::float8 AS p95 FROM gap`,
        [slots],
      );
      const viaTokens = Number(r.rows[0]!.tokens ?? 0);
      const viaSeconds = r.rows[0]!.seconds ?? Number.NaN;
      const viaRate = viaTokens / viaSeconds;
      await stopChild(miner, 'SIGTERM', 30_000);

      report.rows.push({
        measure: `tokens/s through mia-miner, ${slots} slots`,
        value: viaRate,
        unit: 'tok/s',
        baseline: { name: `${serverLabel} direct, ${slots} clients`, value: directRate },
        better: 'higher',
        target: '≥ 0.97× direct',
        met: viaRate >= 0.97 * directRate,
      });
      report.notes.push(
        `server: ${serverLabel} (${bin}${extra.length ? ` ${extra.join(' ')}` : ''}), -np ${slots} -c ${slots * ctxPerSlot}`,
        `direct: ${directTokens} tokens in ${directSeconds.toFixed(2)} s; through mia-miner: ${done}/${jobs} jobs, ${viaTokens} tokens in ${viaSeconds.toFixed(2)} s (queued → last completion)`,
      );
      const h = handoff.rows[0]!;
      report.notes.push(
        `idle slot time per job (through mia-miner − direct, × ${slots} slots ÷ ${jobs} jobs): ${(((viaSeconds - directSeconds) * slots * 1000) / jobs).toFixed(0)} ms; ` +
          `next claim − previous result in, same slot: p50 ${h.p50.toFixed(1)} ms, p95 ${h.p95.toFixed(1)} ms (negative: claimed ahead)`,
      );
      if (done < jobs) throw new Error(`only ${done} of ${jobs} jobs completed in time:\n${minerLog}`);
    }),
};
