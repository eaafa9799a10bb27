// 6. The submit path. (a) POST /chat with wait 0 from C concurrent keep-alive
// clients: chats/s, next to the same insert (sql/job_create.sql) driven
// through pg at the same concurrency. (b) A waiting POST /chat (wait 30) with
// one long-polling miner that answers at once: what the API adds on top of
// the miner's own time (job in hand → result acknowledged), one chat at a time.
// (c) Redaction's cost: chats carrying personal data, redaction on vs off.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { NewJob } from '../../api/store/jobs.ts';
import { compileNamedParameters, sqlDirectory } from '../../api/db/defineQuery.ts';
import { benchAdminToken, startApiProcess } from '../lib/apiProcess.ts';
import { connect } from '../lib/benchPostgres.ts';
import { CpuMeter } from '../lib/cpu.ts';
import { createBusiness, createMiners, typicalMessages } from '../lib/fixtures.ts';
import { HttpClient } from '../lib/httpClient.ts';
import { resultOf, type ClaimedJob } from '../lib/minerSim.ts';
import { withCleanup, type Scenario } from '../lib/scenario.ts';
import { nowMs, sleep, summarize } from '../lib/stats.ts';

const concurrency = 16;

export const submitPath: Scenario = {
  id: '6-submit',
  title: `Submit path: POST /chat (wait 0) rate with ${concurrency} clients; waiting POST /chat overhead`,
  run: (ctx, report) =>
    withCleanup(async (defer) => {
      const chats = ctx.quick ? 500 : 10_000;
      const waits = ctx.quick ? 100 : 1000;
      const maxMs = (ctx.quick ? 15 : 60) * 1000;
      const url = await ctx.pg.createDatabase('mia_bench_submit');
      defer(() => ctx.pg.dropDatabase('mia_bench_submit'));
      const db = await connect(url);
      defer(() => db.end());
      const [miner] = await createMiners(db, 1);

      const api = await startApiProcess(url, ctx.apiEnv);
      defer(() => api.stop());
      const business = await createBusiness(api.url, benchAdminToken);
      const meter = new CpuMeter(() => [api.pid], ctx.pg.postmasterPid);

      // (a) chats/s
      ctx.progress(`(a) ${chats} × POST /chat wait 0, ${concurrency} clients`);
      const clients = Array.from({ length: concurrency }, () => new HttpClient(api.url));
      defer(() => clients.forEach((c) => c.close()));
      let sent = 0;
      const latencies: number[] = [];
      const deadline = nowMs() + maxMs;
      meter.begin();
      const start = nowMs();
      await Promise.all(
        clients.map(async (client) => {
          while (sent < chats && nowMs() < deadline) {
            const i = sent++;
            const t0 = nowMs();
            const res = await client.request('POST', '/chat', { token: business.apiKey, body: { message: `Where is my order ${i}?`, wait: 0 } });
            latencies.push(nowMs() - t0);
            if (res.status !== 202) throw new Error(`POST /chat: ${res.status} ${res.text.slice(0, 200)}`);
          }
        }),
      );
      const httpRate = latencies.length / ((nowMs() - start) / 1000);
      report.cpu['POST /chat wait 0'] = meter.end();

      ctx.progress(`(a) baseline: sql/job_create.sql through pg, ${concurrency} connections`);
      const { sql: createSql, names } = compileNamedParameters(readFileSync(new URL('job_create.sql', sqlDirectory), 'utf8'));
      const conns = await Promise.all(Array.from({ length: concurrency }, () => connect(url)));
      let inserted = 0;
      const sqlDeadline = nowMs() + maxMs;
      meter.begin();
      const sqlStart = nowMs();
      await Promise.all(
        conns.map(async (c) => {
          while (inserted < chats && nowMs() < sqlDeadline) {
            const i = inserted++;
            const message = `Where is my order ${i}?`;
            // Typed as the API's own insert, so a parameter added to job_create.sql fails the typecheck here.
            const values: NewJob = {
              business_id: business.id, session_id: randomUUID(), messages: typicalMessages(message), prompt: message,
              context: null, max_tokens: 512, temperature: 0.7, tools: null, tool_choice: null, sampling: null, priority: 100,
              max_attempts: 3, idempotency_key: null, callback_url: null, notify_on_finish: false, queue_timeout_s: 600, need_tokens: 600, waits_for_miner: false, model: null, fair_spacing_s: 1, reserve: false,
              log_message: message, pii_redacted: '{}', pii_placeholders: [], canary_prompt: null,
            };
            await c.query(createSql, names.map((n) => values[n as keyof NewJob]));
          }
        }),
      );
      const sqlRate = inserted / ((nowMs() - sqlStart) / 1000);
      report.cpu['job_create via pg'] = meter.end();
      await Promise.all(conns.map((c) => c.end()));
      await db.query(`UPDATE mia.jobs SET status = 'cancelled' WHERE status = 'queued'`);

      // (c) Redaction's cost on the submit path (issue 21): the same clients sending messages
      // that carry an e-mail, a phone number, a Luhn-valid card and an IBAN, new values each
      // time (so every chat detects, assigns placeholders under the session lock and inserts
      // them), with redaction on (the default) and then off for the same messages.
      const piiMessage = (i: number) =>
        `I am customer${i}@example.com, call +49 30 ${String(1000000 + i).slice(-7)}; card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00. Where is order ${i}?`;
      const chatRate = async (label: string, count: number, message: (i: number) => string): Promise<{ rate: number; p50: number }> => {
        ctx.progress(`(c) ${count} × POST /chat wait 0, ${concurrency} clients: ${label}`);
        let next = 0;
        const times: number[] = [];
        const until = nowMs() + maxMs;
        meter.begin();
        const began = nowMs();
        await Promise.all(clients.map(async (client) => {
          while (next < count && nowMs() < until) {
            const i = next++;
            const t0 = nowMs();
            const res = await client.request('POST', '/chat', { token: business.apiKey, body: { message: message(i), wait: 0 } });
            times.push(nowMs() - t0);
            if (res.status !== 202) throw new Error(`POST /chat (${label}): ${res.status} ${res.text.slice(0, 200)}`);
          }
        }));
        report.cpu[`POST /chat wait 0, ${label}`] = meter.end();
        await db.query(`UPDATE mia.jobs SET status = 'cancelled' WHERE status = 'queued'`);
        return { rate: times.length / ((nowMs() - began) / 1000), p50: summarize(times).p50 };
      };
      const piiChats = Math.max(200, Math.round(chats / 4));
      const redacted = await chatRate('personal data, redaction on', piiChats, piiMessage);
      const off = await fetch(`${api.url}/businesses/${business.id}`, {
        method: 'PATCH', headers: { authorization: `Bearer ${benchAdminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ pii_redaction: false }),
      });
      if (off.status !== 200) throw new Error(`PATCH pii_redaction: ${off.status} ${await off.text()}`);
      const unredacted = await chatRate('personal data, redaction off', piiChats, piiMessage);

      const a = summarize(latencies);
      report.rows.push(
        { measure: `POST /chat wait 0 with personal data, redaction on, ${concurrency} clients`, value: redacted.rate, unit: 'req/s', baseline: { name: 'the same messages, redaction off', value: unredacted.rate }, better: 'higher' },
        { measure: `POST /chat wait 0 with personal data, latency p50 redaction on / off`, value: redacted.p50, unit: 'ms', baseline: { name: 'redaction off', value: unredacted.p50 }, better: 'lower' },
        { measure: `POST /chat wait 0, ${concurrency} clients`, value: httpRate, unit: 'req/s', baseline: { name: 'job_create SQL via pg', value: sqlRate }, better: 'higher' },
        { measure: `POST /chat wait 0 latency p50`, value: a.p50, unit: 'ms', better: 'lower' },
        { measure: `POST /chat wait 0 latency p99`, value: a.p99, unit: 'ms', better: 'lower' },
      );

      // (b) waiting POST /chat
      ctx.progress(`(b) ${waits} × POST /chat wait 30 with one miner answering at once`);
      const minerClient = new HttpClient(api.url);
      defer(() => minerClient.close());
      // The miner's own time per prompt; the chat's answer may arrive before the
      // miner's result acknowledgement, so each is a promise.
      const minerTime = new Map<string, { promise: Promise<number>; resolve: (ms: number) => void }>();
      const ownTime = (prompt: string) => {
        let entry = minerTime.get(prompt);
        if (!entry) {
          let resolve!: (ms: number) => void;
          const promise = new Promise<number>((r) => (resolve = r));
          entry = { promise, resolve };
          minerTime.set(prompt, entry);
        }
        return entry;
      };
      let stopping = false;
      let failure: unknown = null;
      const minerLoop = (async () => {
        try {
          while (!stopping) {
            const res = await minerClient.request('GET', `/job/next?miner_id=${miner!.id}&wait=30`, { token: miner!.key, timeoutMs: 40_000 });
            if (res.status === 204) continue;
            const got = nowMs();
            if (res.status !== 200) throw new Error(`claim: ${res.status} ${res.text.slice(0, 200)}`);
            const job = JSON.parse(res.text) as ClaimedJob;
            const done = await minerClient.request('POST', '/job/result', { token: miner!.key, body: { ...resultOf(job), miner_id: miner!.id } });
            if (done.status !== 200) throw new Error(`result: ${done.status} ${done.text.slice(0, 200)}`);
            ownTime(job.prompt).resolve(nowMs() - got);
          }
        } catch (error) {
          if (!stopping) failure = error;
        }
      })();
      const chatClient = clients[0]!;
      const totals: number[] = [];
      const overheads: number[] = [];
      const waitDeadline = nowMs() + maxMs;
      meter.begin();
      try {
        await sleep(100);
        for (let i = 0; i < waits && nowMs() < waitDeadline && !failure; i++) {
          const prompt = `Can you repair my e-bike, question ${i}?`;
          const t0 = nowMs();
          const res = await chatClient.request('POST', '/chat', { token: business.apiKey, body: { message: prompt, wait: 30 }, timeoutMs: 35_000 });
          const total = nowMs() - t0;
          if (res.status !== 200) throw new Error(`waiting POST /chat: ${res.status} ${res.text.slice(0, 200)}`);
          const own = await Promise.race([ownTime(prompt).promise, sleep(5000).then(() => Number.NaN)]);
          minerTime.delete(prompt);
          if (Number.isNaN(own)) throw new Error('the miner never saw its result acknowledged');
          totals.push(total);
          overheads.push(total - own);
        }
      } finally {
        stopping = true;
        minerClient.close();
        await minerLoop;
      }
      report.cpu['waiting POST /chat'] = meter.end();
      if (failure) throw failure;
      const t = summarize(totals);
      const o = summarize(overheads);
      report.rows.push(
        { measure: 'waiting POST /chat: overhead over the miner p50', value: o.p50, unit: 'ms', better: 'lower' },
        { measure: 'waiting POST /chat: overhead over the miner p99', value: o.p99, unit: 'ms', better: 'lower' },
      );
      report.notes.push(
        `(a) ${latencies.length} chats at ${Math.round(httpRate)}/s vs ${inserted} bare inserts at ${Math.round(sqlRate)}/s`,
        `(b) ${t.n} waiting chats: total p50 ${t.p50.toFixed(2)} ms / p99 ${t.p99.toFixed(2)} ms; the miner's own time (job in hand → result acknowledged) is subtracted per chat; ` +
          `overhead = dispatch + completion NOTIFY + re-read of the job`,
      );
    }),
};
