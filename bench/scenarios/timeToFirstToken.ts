// 8. Time to first token: a customer's message to the first words on screen.
// (a) the same llama-server driven directly, `stream: true`: request sent → first
// content delta; (b) through MIA: `POST /v1/chat/completions` with `stream: true`
// (what the OpenAI SDKs send) to the API, whose job an idle, parked `mia-miner`
// claims, streams from llama-server and forwards as delta batches
// (POST /job/{id}/deltas → mia.job_deltas → NOTIFY → the SSE relay). One chat at a
// time, as a customer sends them; the miner waits between chats like a real idle one.
// The difference is what MIA adds before the first word; SPEC: "well under a second".
//
// Server: the real llama-server when LLAMA_SERVER_BIN and LLAMA_MODEL are set, else
// the test double at FAKE_LLAMA_TOKENS_PER_SECOND=100 (a GPU-like pace).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchAdminToken, benchEnrolmentToken, startApiProcess } from '../lib/apiProcess.ts';
import { createBusiness, typicalMessages } from '../lib/fixtures.ts';
import { chooseLlamaServer } from '../lib/llamaServerChoice.ts';
import { freePort, stopChild } from '../lib/processes.ts';
import { withCleanup, type Scenario } from '../lib/scenario.ts';
import { nowMs, sleep, summarize } from '../lib/stats.ts';

// MIA_BENCH_MINER_BIN runs another build of the miner (say, an older commit's) against the same API.
const minerBin = process.env.MIA_BENCH_MINER_BIN ?? 'miner/bin/mia-miner.js';
const maxTokens = 32;

type Sums = { sum: number; count: number };

/** The API's dispatch and first-token histograms (GET /metrics, Prometheus text): sum and count of each. */
async function serverTimings(apiUrl: string): Promise<{ dispatch: Sums; firstToken: Sums }> {
  const text = await (await fetch(`${apiUrl}/metrics?format=prometheus`)).text();
  const read = (name: string): Sums => ({
    sum: Number(new RegExp(`^${name}_sum(?:\\{\\})? ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? 0),
    count: Number(new RegExp(`^${name}_count(?:\\{\\})? ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? 0),
  });
  return { dispatch: read('mia_job_dispatch_latency_seconds'), firstToken: read('mia_job_time_to_first_token_seconds') };
}

/**
 * POSTs an OpenAI-style streaming chat and reads the event stream to its end.
 * Returns ms from sending to the first non-empty `delta.content`, the longest wait
 * between two content chunks (what a reader sees as a stall), and the text.
 */
async function streamedChat(url: string, headers: Record<string, string>, body: object): Promise<{ firstMs: number; gapMs: number; text: string }> {
  const t0 = nowMs();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ ...body, stream: true }) });
  if (res.status !== 200 || !res.body) throw new Error(`${url}: ${res.status} ${(await res.text()).slice(0, 200)}`);
  let firstMs = Number.NaN;
  let gapMs = 0;
  let lastAt = Number.NaN;
  let text = '';
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const bytes of res.body) {
    buffer += decoder.decode(bytes as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (!line.startsWith('data:') || line === 'data: [DONE]') continue;
      const event = JSON.parse(line.slice(5)) as { choices?: { delta?: { content?: string | null } }[]; error?: { message: string } };
      if (event.error) throw new Error(`${url}: stream error ${event.error.message}`);
      const piece = event.choices?.[0]?.delta?.content;
      if (piece) {
        const at = nowMs();
        if (Number.isNaN(firstMs)) firstMs = at - t0;
        else gapMs = Math.max(gapMs, at - lastAt);
        lastAt = at;
        text += piece;
      }
    }
  }
  if (Number.isNaN(firstMs)) throw new Error(`${url}: the stream ended without text`);
  return { firstMs, gapMs, text };
}

export const timeToFirstToken: Scenario = {
  id: '8-ttft',
  title: 'Time to first token: streamed /v1/chat/completions through the API and mia-miner vs llama-server driven directly',
  run: (ctx, report) =>
    withCleanup(async (defer) => {
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'mia-bench-ttft-'));
      defer(() => rmSync(tmp, { recursive: true, force: true }));
      const choice = chooseLlamaServer(tmp, 'fake-llama-server (test double, 100 tok/s)');
      if ('skipped' in choice) {
        report.skipped = choice.skipped;
        return;
      }
      const { bin, model, extra, label: serverLabel } = choice;
      const serverEnv = { ...process.env, FAKE_LLAMA_TOKENS_PER_SECOND: process.env.FAKE_LLAMA_TOKENS_PER_SECOND ?? '100' };
      const chats = ctx.quick ? 20 : 100;
      const messages = JSON.parse(typicalMessages('Hello, when can I pick up my bike?')) as unknown[];

      // (a) llama-server directly.
      ctx.progress(`(a) ${serverLabel} directly: ${chats} streamed chats, one at a time`);
      const port = await freePort();
      const server = spawn(bin, ['--host', '127.0.0.1', '--port', String(port), '-m', model, '-ngl', '0', '-np', '1', '-c', '2048', ...extra], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: serverEnv,
      });
      let serverLog = '';
      server.stderr!.on('data', (c: Buffer) => (serverLog = (serverLog + c.toString()).slice(-4000)));
      defer(() => stopChild(server));
      const base = `http://127.0.0.1:${port}`;
      const ready = nowMs() + 120_000;
      while ((await fetch(`${base}/health`).then((r) => r.status, () => 0)) !== 200) {
        if (server.exitCode !== null || nowMs() > ready) throw new Error(`llama-server did not become healthy:\n${serverLog}`);
        await sleep(100);
      }
      const direct: number[] = [];
      const directGaps: number[] = [];
      await streamedChat(`${base}/v1/chat/completions`, {}, { messages, max_tokens: maxTokens }); // warm-up
      for (let i = 0; i < chats; i++) {
        const chat = await streamedChat(`${base}/v1/chat/completions`, {}, { messages, max_tokens: maxTokens });
        direct.push(chat.firstMs);
        directGaps.push(chat.gapMs);
      }
      await stopChild(server);

      // (b) through the API and an idle mia-miner.
      ctx.progress(`(b) POST /v1/chat/completions stream:true through the API and mia-miner: ${chats} chats, one at a time`);
      const url = await ctx.pg.createDatabase('mia_bench_ttft');
      defer(() => ctx.pg.dropDatabase('mia_bench_ttft'));
      const api = await startApiProcess(url, ctx.apiEnv);
      defer(() => api.stop());
      const business = await createBusiness(api.url, benchAdminToken);
      const miner = spawn(
        process.execPath,
        [minerBin, 'run', '--backend-url', api.url, '--name', 'bench-ttft-miner', '--llama-server', bin, '--model', model,
          '--gpu-layers', '0', '--slots', '1', '--ctx-per-slot', '2048', '--state-dir', tmp, '--log-level', 'warn',
          ...(extra.length ? [`--llama-args=${extra.join(' ')}`] : [])],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...serverEnv, MIA_ENROLMENT_TOKEN: benchEnrolmentToken } },
      );
      let minerLog = '';
      const keep = (c: Buffer) => (minerLog = (minerLog + c.toString()).slice(-4000));
      miner.stdout!.on('data', keep);
      miner.stderr!.on('data', keep);
      defer(() => stopChild(miner, 'SIGTERM', 30_000));
      const headers = { authorization: `Bearer ${business.apiKey}` };
      const body = { model: 'mia', messages: [{ role: 'user', content: 'Hello, when can I pick up my bike?' }], max_tokens: maxTokens };
      // The first chat waits for llama-server to load and the miner to park; untimed.
      const warmDeadline = nowMs() + 120_000;
      for (;;) {
        if (miner.exitCode !== null) throw new Error(`mia-miner exited (${miner.exitCode}):\n${minerLog}`);
        try {
          await streamedChat(`${api.url}/v1/chat/completions`, headers, body);
          break;
        } catch (error) {
          if (nowMs() > warmDeadline) throw new Error(`no answer through mia-miner: ${(error as Error).message}\n${minerLog}`, { cause: error });
          await sleep(500);
        }
      }
      const via: number[] = [];
      const viaGaps: number[] = [];
      const serverBefore = await serverTimings(api.url);
      for (let i = 0; i < chats; i++) {
        // Let the miner go back to its long-poll, as between two customers' messages.
        await sleep(50);
        const chat = await streamedChat(`${api.url}/v1/chat/completions`, headers, body);
        via.push(chat.firstMs);
        viaGaps.push(chat.gapMs);
      }

      const serverAfter = await serverTimings(api.url);
      const d = summarize(direct);
      const v = summarize(via);
      for (const key of ['p50', 'p95'] as const) {
        report.rows.push({
          measure: `first token ${key}, /v1 stream via API + mia-miner`,
          value: v[key],
          unit: 'ms',
          baseline: { name: `${serverLabel} direct ${key}`, value: d[key] },
          better: 'lower',
          ...(key === 'p95' ? { target: '< 500 ms', met: v.p95 < 500 } : {}),
        });
      }
      // Each chat's worst gap between chunks; the row is the worst of all chats, the note adds the p50 chat.
      const dg = summarize(directGaps);
      const vg = summarize(viaGaps);
      report.rows.push({
        measure: 'worst gap between streamed chunks, via API + mia-miner',
        value: vg.max,
        unit: 'ms',
        baseline: { name: `${serverLabel} direct worst gap`, value: dg.max },
        better: 'lower',
        target: '≤ 2× direct',
        met: vg.max <= 2 * dg.max,
      });
      report.notes.push(
        `worst gap between chunks per chat: direct p50 ${dg.p50.toFixed(1)} ms, max ${dg.max.toFixed(1)} ms; ` +
          `through MIA p50 ${vg.p50.toFixed(1)} ms, max ${vg.max.toFixed(1)} ms`,
      );
      report.notes.push(
        `direct: ${d.n} chats, first token p50 ${d.p50.toFixed(1)} ms, p95 ${d.p95.toFixed(1)} ms; ` +
          `through MIA: ${v.n} chats, p50 ${v.p50.toFixed(1)} ms, p95 ${v.p95.toFixed(1)} ms, max ${v.max.toFixed(1)} ms ` +
          `(what MIA adds at p50: ${(v.p50 - d.p50).toFixed(1)} ms: claim of a parked miner, the miner's first delta batch, NOTIFY, relay)`,
      );
      // Where the time goes, from the API's own histograms over the timed chats (means, on
      // the database's clock from the job's creation): creation → claimed by the parked
      // miner, → its first delta batch stored; the rest of the client's time is the submit
      // before the job's transaction and the relay after the batch.
      const n = serverAfter.dispatch.count - serverBefore.dispatch.count;
      if (n > 0 && serverAfter.firstToken.count - serverBefore.firstToken.count === n) {
        const dispatchMs = ((serverAfter.dispatch.sum - serverBefore.dispatch.sum) / n) * 1000;
        const firstBatchMs = ((serverAfter.firstToken.sum - serverBefore.firstToken.sum) / n) * 1000;
        const meanVia = via.reduce((a, b) => a + b, 0) / via.length;
        const meanDirect = direct.reduce((a, b) => a + b, 0) / direct.length;
        report.notes.push(
          `where the first token's time goes (means over ${n} chats): request → job created and the rest of the relay ` +
            `${(meanVia - firstBatchMs).toFixed(1)} ms; created → claimed by the parked miner ${dispatchMs.toFixed(1)} ms; ` +
            `claimed → first batch stored ${(firstBatchMs - dispatchMs).toFixed(1)} ms, of which the server's own first token ` +
            `${meanDirect.toFixed(1)} ms (direct), the miner ${(firstBatchMs - dispatchMs - meanDirect).toFixed(1)} ms`,
        );
      }
    }),
};
