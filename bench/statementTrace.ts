// Every statement and transaction one job costs, deterministically (issue 17): the
// API in-process on a fresh test database, pg's Client.query wrapped to record each
// round trip with the API source line that sent it, then one job's life:
// POST /chat (wait 0) → GET /job/next → POST /job/{id}/deltas → POST /job/result.
// The maintenance worker is off and the fallback poll slowed, so nothing else queries.
//
//   node --import tsx bench/statementTrace.ts            # the table
//   node --import tsx bench/statementTrace.ts --jobs=50  # the per-job average over 50 jobs
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { compileNamedParameters, sqlDirectory } from '../api/db/defineQuery.ts';
import { startTestApi } from '../test/support/apiServer.ts';
import { createBusiness, registerMiner } from '../test/support/factories.ts';

type Trace = { step: string; sql: string; origin: string; ms: number };
const traced: Trace[] = [];
let step = 'start-up';

Error.stackTraceLimit = 100;
// Which sql/*.sql file a statement's text came from.
const fileOf = new Map<string, string>();
for (const name of readdirSync(sqlDirectory).filter((f) => f.endsWith('.sql'))) {
  fileOf.set(compileNamedParameters(readFileSync(new URL(name, sqlDirectory), 'utf8')).sql, `sql/${name}`);
}

// The first line of our own code on the stack (not slonik, pg, or this file).
function origin(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(2);
  const ours = lines.find((l) => l.includes('/api/') && !l.includes('node_modules') && !l.includes('/api/db/'));
  const match = ours && /\/(api\/[^):]+):(\d+)/.exec(ours);
  return match ? `${match[1]}:${match[2]}` : '?';
}

function label(text: string): string {
  const file = fileOf.get(text.trim());
  if (file) return file;
  const sql = text.replace(/\s+/g, ' ').trim();
  if (/^(START TRANSACTION|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)/i.test(sql)) return sql.slice(0, 40);
  return sql.slice(0, 90);
}

const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const config = args[0] as string | { text?: string };
  const text = typeof config === 'string' ? config : (config?.text ?? '');
  const entry: Trace = { step, sql: label(text), origin: origin(), ms: Number.NaN };
  traced.push(entry);
  const started = performance.now();
  const result = (original as (...a: unknown[]) => unknown).apply(this, args);
  // Round-trip time as the API sees it (queueing on the client included).
  if (result instanceof Promise) {
    result.then(() => { entry.ms = performance.now() - started; }, () => { entry.ms = performance.now() - started; });
  }
  return result;
} as typeof original;

// The test suite's Postgres (test/support/postgres.ts: trust auth on 127.0.0.1:5432) unless told.
process.env.MIA_TEST_ADMIN_URL ??= process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const jobs = Number(/--jobs=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 1);
const api = await startTestApi({ env: { MIA_WORKER: 'off', MIA_FALLBACK_POLL_MS: '600000', MIA_LOG_LEVEL: 'error' } });
try {
  const business = await createBusiness(api);
  const miner = await registerMiner(api);
  const run = async (name: string, fn: () => Promise<{ status: number; body?: unknown }>, want: number) => {
    step = name;
    const res = await fn();
    if (res.status !== want) throw new Error(`${name}: ${res.status} ${JSON.stringify(res.body)}`);
    // Statements sent after the response (fire-and-forget) still count: let them start.
    await new Promise((resolve) => setTimeout(resolve, 50));
    step = 'between';
    return res.body as Record<string, unknown>;
  };
  // One warm-up job so caches (keys, miner touch) are in their steady state.
  for (let i = 0; i <= jobs; i++) {
    if (i === 1) traced.length = 0;
    await run('POST /chat', () => api.request('POST', '/chat', { token: business.api_key, body: { message: 'Hello!', wait: 0 } }), 202);
    const job = await run('GET /job/next', () => api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=0`, { token: miner.auth_key }), 200);
    await run('POST /job/{id}/deltas', () => api.request('POST', `/job/${String(job.job_id)}/deltas`, {
      token: miner.auth_key,
      body: { lease_token: job.lease_token, seq: 0, text_start: 0, content: 'Here is' },
    }), 200);
    await run('POST /job/result', () => api.request('POST', '/job/result', {
      token: miner.auth_key,
      body: { job_id: job.job_id, miner_id: miner.miner_id, success: true, output: 'Here is your answer.', tokens_generated: 5, lease_token: job.lease_token },
    }), 200);
  }
} finally {
  step = 'close';
  await api.close();
}

const steady = traced.filter((t) => t.step !== 'close' && t.step !== 'start-up');
if (jobs === 1) {
  console.log('| step | statement | sent from | ms |');
  console.log('| --- | --- | --- | --- |');
  for (const t of steady) console.log(`| ${t.step} | \`${t.sql.replace(/\|/g, '\\|')}\` | ${t.origin} | ${t.ms.toFixed(2)} |`);
} else {
  // Mean round-trip time per statement over the jobs, slowest first.
  const byStatement = new Map<string, number[]>();
  for (const t of steady) byStatement.set(`${t.step} ${t.sql}`, [...(byStatement.get(`${t.step} ${t.sql}`) ?? []), t.ms]);
  const rows = [...byStatement].map(([key, ms]) => ({ key, n: ms.length / jobs, mean: ms.reduce((a, b) => a + b, 0) / ms.length }));
  for (const r of rows.sort((a, b) => b.mean * b.n - a.mean * a.n)) {
    console.log(`${(r.mean * r.n).toFixed(2).padStart(7)} ms/job  ${r.n.toFixed(2)}× ${r.mean.toFixed(2)} ms  ${r.key}`);
  }
}
const byStep = new Map<string, { statements: number; transactions: number }>();
for (const t of steady) {
  const entry = byStep.get(t.step) ?? { statements: 0, transactions: 0 };
  entry.statements += 1;
  if (/^(START TRANSACTION|BEGIN)/i.test(t.sql)) entry.transactions += 1;
  byStep.set(t.step, entry);
}
// Outside an explicit transaction each statement is its own transaction.
let total = { statements: 0, transactions: 0 };
for (const [name, e] of byStep) {
  const inTx = countInTransactions(steady.filter((t) => t.step === name));
  const tx = e.transactions + (e.statements - inTx);
  console.log(`${name}: ${(e.statements / jobs).toFixed(2)} round trips, ${(tx / jobs).toFixed(2)} transactions per job`);
  total = { statements: total.statements + e.statements, transactions: total.transactions + tx };
}
console.log(`total: ${(total.statements / jobs).toFixed(2)} round trips, ${(total.transactions / jobs).toFixed(2)} transactions per job`);

/** Round trips that were part of an explicit transaction (BEGIN … COMMIT/ROLLBACK, both included). */
function countInTransactions(list: readonly Trace[]): number {
  let n = 0;
  let open = false;
  for (const t of list) {
    if (/^(START TRANSACTION|BEGIN)/i.test(t.sql)) open = true;
    if (open) n += 1;
    if (/^(COMMIT|ROLLBACK)/i.test(t.sql)) open = false;
  }
  return n;
}
