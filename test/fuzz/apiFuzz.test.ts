import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, registerMiner, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { loadApiModel } from './openapiModel.ts';
import { offContractRequest, placeholders, requestFor, type RequestTemplate } from './requestArbitraries.ts';

const totalRequests = Number(process.env.FUZZ_REQUESTS ?? 6000);
const offContractShare = 300;
const concurrency = 8;
const seed = Number(process.env.FUZZ_SEED ?? 20_240_611);
// Every request is bounded (long-polls wait ≤ 1 s); this bounds the whole run.
const runBudgetMs = 50_000;

/**
 * The one documented 5xx family: POST /v1/chat/completions is a gateway to a
 * miner, and reports the job's own fate as OpenAI clients expect — 502 when it
 * failed or was cancelled (here: by a fuzzed DELETE), 504 when no miner answered
 * in time, 503 no_miner_available when no miner was online to take it (nothing
 * queued). Anything else in 5xx is a bug.
 */
function gatewayOutcome(status: number, text: string): boolean {
  return (status === 502 && text.includes('"code":"job_failed"')) || (status === 504 && text.includes('"code":"timeout"'))
    || (status === 503 && text.includes('"code":"no_miner_available"'));
}

type Claim = { job_id: string; lease_token: string; miner: TestMiner };

/** Seeded choices at send time (mulberry32), so a run is reproducible from FUZZ_SEED. */
function random(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzzing every route from openapi.yaml', function () {
  this.timeout(90_000);
  let api: TestApi;
  before(async () => {
    api = await startTestApi({
      // Small enough that oversized bodies are cheap to send; OpenAI-style calls wait at most 1 s for a miner.
      // A stream (POST /chat stream:true, GET /job/{id}/stream) stays open until its job ends; a
      // fuzzed miner may hold that job and never answer. Short leases bring such a job back to
      // the helper miner within seconds, and no stream outlives 5 s (the client would reconnect).
      env: {
        MIA_MAX_BODY_BYTES: '65536',
        MIA_OPENAI_WAIT_SECONDS: '1',
        MIA_STREAM_MAX_SECONDS: '5',
        MIA_LEASE_BASE_SECONDS: '3',
        MIA_LEASE_MS_PER_TOKEN: '0',
        MIA_REAP_INTERVAL_MS: '200',
      },
    });
  });
  after(async () => {
    await api?.close();
  });

  // What earlier fuzzing runs found, pinned: each of these was a 500.
  it('refuses text that Postgres cannot store (NUL, a lone surrogate) with 400, not 500', async () => {
    const business = await createBusiness(api);
    for (const body of [{ message: 'a\u0000b' }, { message: 'ok', context: '\u0000' }, { message: '\ud800' }]) {
      const res = await api.request('POST', '/chat', { token: business.api_key, body: { ...body, wait: 0 } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.code, 'bad_request');
    }
  });

  it('refuses integers beyond the 32-bit columns they are stored in with 400 naming the field', async () => {
    const res = await api.request('POST', '/register_miner', { body: { name: 'huge-gpu', gpu_memory_mb: 2 ** 31 } });
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /gpu_memory_mb/);
    const miner = await registerMiner(api);
    const result = await api.request('POST', '/job/result', {
      token: miner.auth_key,
      body: { job_id: '00000000-0000-4000-8000-000000000000', miner_id: miner.miner_id, lease_token: '00000000-0000-4000-8000-000000000000', success: true, output: 'x', tokens_generated: 2 ** 53 - 1 },
    });
    assert.equal(result.status, 400, result.text);
    assert.match(result.text, /tokens_generated/);
  });

  it('answers thousands of generated requests without a 5xx, every error in our shape, and leaves the queue consistent', async () => {
    const model = loadApiModel();
    const errorCodes = new Set(model.errorCodes);
    const rand = random(seed);
    const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rand() * items.length)];

    const businesses: [TestBusiness, TestBusiness] = [await createBusiness(api), await createBusiness(api)];
    const miners: [TestMiner, TestMiner] = [await registerMiner(api), await registerMiner(api)];
    const jobs: string[] = [];
    const claims: Claim[] = [];
    const remember = <T>(list: T[], item: T) => {
      list.push(item);
      if (list.length > 300) list.splice(0, list.length - 300);
    };

    const deadline = Date.now() + runBudgetMs;
    const perOperation = Math.ceil((totalRequests - offContractShare) / model.operations.length);
    const templates: RequestTemplate[] = [
      ...model.operations.flatMap((op, i) => fc.sample(requestFor(op), { numRuns: perOperation, seed: seed + i })),
      ...fc.sample(offContractRequest(model.operations.map((op) => op.path)), { numRuns: offContractShare, seed: seed - 1 }),
    ];
    // Interleave routes, so claims, results, cancels and chats meet each other.
    for (let i = templates.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [templates[i], templates[j]] = [templates[j]!, templates[i]!];
    }

    function resolve(template: RequestTemplate) {
      const usesLease = JSON.stringify(template).includes(placeholders.lease);
      const claim = usesLease || rand() < 0.5 ? pick(claims) : undefined;
      const self = claim?.miner ?? pick(miners)!;
      const other = self === miners[0] ? miners[1] : miners[0];
      const values: Record<string, string> = {
        [placeholders.job]: claim?.job_id ?? pick(jobs) ?? '00000000-0000-4000-8000-000000000000',
        [placeholders.lease]: claim?.lease_token ?? '00000000-0000-4000-8000-000000000001',
        [placeholders.selfMiner]: self.miner_id,
        [placeholders.otherMiner]: other.miner_id,
        [placeholders.selfBusiness]: businesses[0].id,
        [placeholders.otherBusiness]: businesses[1].id,
      };
      const sub = (s: string) => values[s] ?? s;
      const deep = (v: unknown): unknown =>
        typeof v === 'string' ? sub(v)
        : Array.isArray(v) ? v.map(deep)
        : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]))
        : v;

      let path = template.path;
      for (const [name, { value, raw }] of Object.entries(template.pathParams)) {
        path = path.replace(`{${name}}`, raw ? value : encodeURIComponent(sub(value)));
      }
      const query = new URLSearchParams(template.query.map(([k, v]): [string, string] => [k, sub(v)])).toString();
      const headers: Record<string, string> = { ...template.headers };
      const token = {
        none: undefined,
        wrong: 'mia_bk_0000000000000000000000000000000000000000',
        malformed: undefined,
        business: businesses[0].api_key,
        otherBusiness: businesses[1].api_key,
        miner: self.auth_key,
        otherMiner: other.auth_key,
        operator: api.adminToken,
      }[template.auth];
      if (token) headers.authorization = `Bearer ${token}`;
      if (template.auth === 'malformed') headers.authorization = pick(['Bearer', 'Basic dXNlcjpwYXNz', 'Bearer a b', `bearer  ${businesses[0].api_key}x`, 'Bearer \u00e9t\u00e9'])!;
      let body: string | undefined;
      if (template.method !== 'GET' && template.method !== 'HEAD') {
        if (template.body.kind === 'json') {
          body = JSON.stringify(deep(template.body.value));
          headers['content-type'] = 'application/json';
        } else if (template.body.kind === 'raw') {
          body = template.body.text;
          headers['content-type'] = template.body.contentType;
        }
      }
      return { url: `${api.url}${path}${query ? `?${query}` : ''}`, headers, body, self };
    }

    function harvest(template: RequestTemplate, status: number, parsed: unknown, self: TestMiner): void {
      if (status < 200 || status >= 300 || !parsed || typeof parsed !== 'object') return;
      const body = parsed as Record<string, unknown>;
      const minerAuth = template.auth === 'miner' ? self : template.auth === 'otherMiner' ? (self === miners[0] ? miners[1] : miners[0]) : null;
      const claimed = template.label === 'GET /job/next' ? [body] : template.label === 'GET /jobs/next' ? ((body.jobs as Record<string, unknown>[]) ?? []) : [];
      for (const job of claimed) {
        if (minerAuth && typeof job.job_id === 'string' && typeof job.lease_token === 'string') {
          remember(claims, { job_id: job.job_id, lease_token: job.lease_token, miner: minerAuth });
        }
      }
      if (typeof body.job_id === 'string') remember(jobs, body.job_id);
      // A rotated key replaces the one we hold, or every later request of that business is a 401.
      if (template.label.endsWith('/rotate_key') && typeof body.api_key === 'string') {
        const business = businesses.find((b) => b.id === body.business_id);
        if (business) business.api_key = body.api_key;
      }
    }

    // A well-behaved miner beside the fuzzer answers what it can claim, so
    // waiting calls (POST /v1/chat/completions) complete instead of timing out.
    let fuzzing = true;
    const helper = await registerMiner(api);
    async function helperMiner(): Promise<void> {
      // Until the last request is answered, not the deadline: a stream waits for its job.
      while (fuzzing) {
        const claimed = await api.request('GET', `/jobs/next?miner_id=${helper.miner_id}&max_jobs=5&wait=0`, { token: helper.auth_key });
        for (const job of claimed.status === 200 ? (claimed.body.jobs as { job_id: string; lease_token: string }[]) : []) {
          await api.request('POST', '/job/result', {
            token: helper.auth_key,
            body: { job_id: job.job_id, miner_id: helper.miner_id, success: true, output: 'helper answer', tokens_generated: 2, lease_token: job.lease_token },
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    const histogram = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    let sent = 0;

    async function worker(): Promise<void> {
      while (next < templates.length && Date.now() < deadline) {
        const template = templates[next++]!;
        const { url, headers, body, self } = resolve(template);
        const started = Date.now();
        const res = await fetch(url, { method: template.method, headers, body });
        const text = await res.text();
        if (process.env.FUZZ_DEBUG) {
          const ms = Date.now() - started;
          if (ms > 500 || res.status === 400) process.stderr.write(`DEBUG ${ms}ms ${res.status} ${template.label} ${JSON.stringify(template.body).slice(0, 100)} ${url.slice(api.url.length, api.url.length + 100)} -> ${text.slice(0, 200)}\n`);
        }
        sent += 1;
        histogram.set(res.status, (histogram.get(res.status) ?? 0) + 1);
        const where = `${template.label} [${template.auth}] ${template.method} ${url.slice(api.url.length, api.url.length + 120)} body=${(body ?? '').slice(0, 160)}`;
        if (res.status >= 500 && !(template.label === 'POST /v1/chat/completions' && gatewayOutcome(res.status, text))) {
          failures.push(`${res.status} ${where} -> ${text.slice(0, 300)}`);
          continue;
        }
        let parsed: unknown;
        if (text && res.headers.get('content-type')?.includes('json')) {
          try {
            parsed = JSON.parse(text);
          } catch {
            failures.push(`unparseable JSON ${where} -> ${text.slice(0, 200)}`);
            continue;
          }
        }
        if (res.status >= 400) {
          const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
          const keys = parsed && typeof parsed === 'object' ? Object.keys(parsed) : [];
          if (!error || keys.join() !== 'error' || typeof error.code !== 'string' || !errorCodes.has(error.code) || typeof error.message !== 'string') {
            failures.push(`error not in our shape: ${res.status} ${where} -> ${text.slice(0, 200)}`);
          }
        }
        harvest(template, res.status, parsed, self);
      }
    }
    const background = helperMiner();
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    fuzzing = false;
    await background;

    const shown = [...histogram].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
    process.stdout.write(`      fuzz: ${sent} requests over ${model.operations.length} operations (seed ${seed}); statuses ${shown}\n`);
    assert.deepEqual(failures.slice(0, 15), [], `${failures.length} bad responses`);
    assert.ok(sent >= Math.min(5000, totalRequests), `only ${sent} requests were sent within the time budget`);

    const invariants = await withClient(api.databaseUrl, async (db) => {
      const count = async (sql: string) => ((await db.query(sql)).rows[0] as { n: number }).n;
      return {
        leaseMismatch: await count(`SELECT count(*)::int AS n FROM mia.jobs
          WHERE (status = 'running') <> (lease_expires_at IS NOT NULL)
             OR (status = 'running' AND (miner_id IS NULL OR lease_token IS NULL))`),
        leaseWithoutMiner: await count(`SELECT count(*)::int AS n FROM mia.jobs WHERE lease_token IS NOT NULL AND miner_id IS NULL`),
        finishedWithoutTime: await count(`SELECT count(*)::int AS n FROM mia.jobs
          WHERE (status IN ('completed', 'failed', 'cancelled')) <> (completed_at IS NOT NULL)`),
        // A suspected result counts nothing (its job shows 0 tokens and is not in job_count).
        minerCountersOff: await count(`SELECT count(*)::int AS n FROM mia.miners m
          LEFT JOIN (SELECT miner_id, count(*) AS jobs, sum(tokens_generated) AS tokens
                     FROM mia.jobs AS j WHERE status = 'completed'
                       AND NOT EXISTS (SELECT 1 FROM mia.miner_suspicions AS s WHERE s.job_id = j.id AND s.attempt = j.attempts)
                     GROUP BY miner_id) j ON j.miner_id = m.id
          WHERE m.job_count <> coalesce(j.jobs, 0) OR m.total_tokens_generated <> coalesce(j.tokens, 0)`),
        assistantRowsOff: await count(`SELECT count(*)::int AS n FROM mia.jobs j
          WHERE (SELECT count(*) FROM mia.chat_logs c WHERE c.job_id = j.id AND c.role = 'assistant')
                <> CASE WHEN j.status = 'completed' THEN 1 ELSE 0 END`),
        userRowsOff: await count(`SELECT count(*)::int AS n FROM mia.jobs j
          WHERE (SELECT count(*) FROM mia.chat_logs c WHERE c.job_id = j.id AND c.role = 'user') <> 1`),
        completed: await count(`SELECT count(*)::int AS n FROM mia.jobs WHERE status = 'completed'`),
        jobs: await count(`SELECT count(*)::int AS n FROM mia.jobs`),
      };
    });
    process.stdout.write(`      fuzz: queue afterwards: ${invariants.jobs} jobs, ${invariants.completed} completed; invariants ${JSON.stringify(invariants)}\n`);
    assert.deepEqual(
      { ...invariants, completed: undefined, jobs: undefined },
      { leaseMismatch: 0, leaseWithoutMiner: 0, finishedWithoutTime: 0, minerCountersOff: 0, assistantRowsOff: 0, userRowsOff: 0, completed: undefined, jobs: undefined },
    );
    assert.ok(invariants.completed > 0, 'the fuzzer reached the completion path at least once');
  });
});
