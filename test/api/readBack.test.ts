// Reading conversations back (issue 20): a session's transcript, job lists, businesses,
// miners and the queue, each a page at a time by keyset cursor, each scoped by key.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { withClient } from '../support/database.ts';

type Page = { next_cursor: string | null } & Record<string, unknown>;

/** Every row of a list, page by page; fails on a page that repeats a row. */
async function walk(api: TestApi, path: string, token: string, key: string, limit: number, from: string | null = null): Promise<{ rows: Record<string, unknown>[]; pages: number }> {
  const rows: Record<string, unknown>[] = [];
  let cursor: string | null = from;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: { status: number; body: Page; text: string } = await api.request<Page>('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token });
    assert.equal(res.status, 200, res.text);
    const page = res.body[key] as Record<string, unknown>[];
    assert.ok(page.length <= limit);
    if (res.body.next_cursor !== null) assert.equal(page.length, limit, 'only the last page is short');
    rows.push(...page);
    cursor = res.body.next_cursor;
    pages += 1;
    assert.ok(pages < 1000, 'the walk ends');
  } while (cursor !== null);
  return { rows, pages };
}

/**
 * `count` jobs of the business in `session`, inserted in one statement: every `tie` of
 * them share one created_at (to the microsecond), so only the id orders them.
 */
async function insertJobs(api: TestApi, business: TestBusiness, session: string, count: number, tie: number): Promise<string[]> {
  return withClient(api.databaseUrl, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens, status, completed_at, created_at)
       SELECT $1, $2, '[]'::jsonb, 'message ' || g, 64, 'cancelled', now(),
              timestamptz '2026-11-01T00:00:00Z' + (g / $4) * interval '1 second'
       FROM generate_series(0, $3 - 1) AS g
       RETURNING id`,
      [business.id, session, count, tie],
    );
    return rows.map((r) => r.id);
  });
}

function ids(rows: Record<string, unknown>[], key = 'job_id'): string[] {
  return rows.map((r) => r[key] as string);
}

describe('reading conversations back', () => {
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  it('gives a session back turn by turn: message, answer, status, tokens, and why a failed job failed', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const session = `customer-${randomUUID()}`;

    const answered = await submitChat(api, business, { message: '¿A qué hora abren?', session_id: session });
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.body.job_id, answered.body.job_id);
    assert.equal((await postResult(api, miner, claimed.body, { output: 'Abrimos a las 9.', tokens_generated: 6, prompt_tokens: 40 })).status, 200);

    const failing = await submitChat(api, business, { message: 'And on Sunday?', session_id: session });
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const job = await claimJob(api, miner);
      assert.equal(job.body.job_id, failing.body.job_id, `attempt ${attempt}`);
      await postResult(api, miner, job.body, { success: false, output: '', tokens_generated: 0, error: 'llama-server ran out of memory', error_code: 'generation_error' });
    }
    const cancelled = await submitChat(api, business, { message: 'Never mind', session_id: session });
    assert.equal((await api.request('DELETE', `/job/${cancelled.body.job_id}`, { token: business.api_key })).status, 200);
    const waiting = await submitChat(api, business, { message: 'Still there?', session_id: session });
    await submitChat(api, business, { message: 'another conversation', session_id: `${session}-other` });

    const res = await api.request('GET', `/sessions/${encodeURIComponent(session)}`, { token: business.api_key });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.session_id, session);
    assert.equal(res.body.business_id, business.id);
    assert.equal(res.body.next_cursor, null);
    assert.deepEqual(ids(res.body.turns), [answered.body.job_id, failing.body.job_id, cancelled.body.job_id, waiting.body.job_id]);
    const [first, second, third, fourth] = res.body.turns;
    assert.deepEqual(
      { status: first.status, message: first.message, answer: first.answer, tokens_generated: first.tokens_generated, attempts: first.attempts, failure_reason: first.failure_reason },
      { status: 'completed', message: '¿A qué hora abren?', answer: 'Abrimos a las 9.', tokens_generated: 6, attempts: 1, failure_reason: null },
    );
    assert.equal(typeof first.completed_at, 'string');
    assert.equal(second.status, 'failed');
    assert.equal(second.answer, null);
    assert.equal(second.attempts, 3);
    // Our words for the miner's code; the miner's own text stays with the operator.
    assert.match(second.failure_reason, /^generation_error: /);
    assert.doesNotMatch(second.failure_reason, /ran out of memory/);
    assert.equal(third.status, 'cancelled');
    assert.match(third.failure_reason, /cancelled/);
    assert.deepEqual({ status: fourth.status, answer: fourth.answer, failure_reason: fourth.failure_reason, completed_at: fourth.completed_at }, { status: 'queued', answer: null, failure_reason: null, completed_at: null });

    // The job list says the same, newest first, and filters by status and session.
    const failed = await api.request('GET', `/jobs?status=failed`, { token: business.api_key });
    assert.deepEqual(ids(failed.body.jobs), [failing.body.job_id]);
    assert.match(failed.body.jobs[0].failure_reason, /^generation_error: /);
    assert.equal(failed.body.jobs[0].session_id, session);
    const inSession = await api.request('GET', `/jobs?session_id=${encodeURIComponent(session)}`, { token: business.api_key });
    assert.deepEqual(ids(inSession.body.jobs), [waiting.body.job_id, cancelled.body.job_id, failing.body.job_id, answered.body.job_id]);
  });

  it('shows the customer\'s message as written, though the miner was sent placeholders (redaction)', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    const session = `pii-${randomUUID()}`;
    const message = 'Please write to anna.berg@example.com about my order.';
    const chat = await submitChat(api, business, { message, session_id: session });
    assert.equal(chat.status, 202, chat.text);
    const claimed = await claimJob(api, miner);
    assert.doesNotMatch(JSON.stringify(claimed.body), /anna\.berg@example\.com/, 'the miner sees a placeholder');
    await postResult(api, miner, claimed.body, { output: 'I will write to [EMAIL_1] today.', tokens_generated: 8 });
    const read = await api.request('GET', `/sessions/${session}`, { token: business.api_key });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.turns[0].message, message);
    assert.equal(read.body.turns[0].answer, 'I will write to anna.berg@example.com today.');
  });

  it('walks every page of a long session, a business\'s jobs and all jobs without a gap or a repeat, ties on created_at included', async () => {
    const business = await createBusiness(api);
    const other = await createBusiness(api);
    const session = `long-${randomUUID()}`;
    // 130 jobs, 13 to a microsecond: pages of 7 end inside runs of equal created_at.
    const inserted = await insertJobs(api, business, session, 130, 13);
    const elsewhere = await insertJobs(api, business, `${session}-b`, 20, 20);
    const others = await insertJobs(api, other, session, 15, 5);

    const transcript = await walk(api, `/sessions/${session}`, business.api_key, 'turns', 7);
    assert.equal(transcript.pages, Math.ceil(130 / 7));
    const turnIds = ids(transcript.rows);
    assert.equal(new Set(turnIds).size, 130, 'no turn twice');
    assert.deepEqual(new Set(turnIds), new Set(inserted), 'every turn, and only this session\'s');
    const order = transcript.rows.map((t) => `${t.created_at as string}|${t.job_id as string}`);
    assert.deepEqual(order, [...order].sort(), 'oldest first, ties by id');

    const jobs = await walk(api, '/jobs', business.api_key, 'jobs', 9);
    assert.equal(new Set(ids(jobs.rows)).size, 150);
    assert.deepEqual(new Set(ids(jobs.rows)), new Set([...inserted, ...elsewhere]));
    const newest = jobs.rows.map((t) => `${t.created_at as string}|${t.job_id as string}`);
    assert.deepEqual(newest, [...newest].sort().reverse(), 'newest first, ties by id');

    const sessionJobs = await walk(api, `/jobs?session_id=${session}`, business.api_key, 'jobs', 11);
    assert.deepEqual(new Set(ids(sessionJobs.rows)), new Set(inserted));
    assert.equal(sessionJobs.rows.length, 130);

    // The operator: one business, then everyone's (this suite's other tests' jobs included).
    const ofOther = await walk(api, `/jobs?business_id=${other.id}`, api.adminToken, 'jobs', 4);
    assert.deepEqual(ids(ofOther.rows).sort(), [...others].sort());
    const everyone = await walk(api, '/jobs', api.adminToken, 'jobs', 50);
    const everyId = ids(everyone.rows);
    assert.equal(new Set(everyId).size, everyId.length, 'no job twice across businesses');
    for (const id of [...inserted, ...elsewhere, ...others]) assert.ok(everyId.includes(id));
    const total = await withClient(api.databaseUrl, async (c) => Number((await c.query('SELECT count(*) FROM mia.jobs')).rows[0].count));
    assert.equal(everyId.length, total);
    const operatorTranscript = await walk(api, `/sessions/${session}?business_id=${other.id}`, api.adminToken, 'turns', 6);
    assert.deepEqual(ids(operatorTranscript.rows).sort(), [...others].sort());
  });

  it('keeps its place while new jobs arrive between pages: nothing repeats, nothing is skipped', async () => {
    const business = await createBusiness(api);
    const session = `busy-${randomUUID()}`;
    const inserted = await insertJobs(api, business, session, 12, 1);
    const first = await api.request('GET', `/jobs?session_id=${session}&limit=5`, { token: business.api_key });
    // An OFFSET would now shift by two and repeat rows of the first page.
    await submitChat(api, business, { session_id: session });
    await submitChat(api, business, { session_id: session });
    const rest = await walk(api, `/jobs?session_id=${session}`, business.api_key, 'jobs', 5, first.body.next_cursor);
    assert.deepEqual([...ids(first.body.jobs), ...ids(rest.rows)], [...inserted].reverse());
  });

  it('filters jobs by creation time: since inclusive, until exclusive', async () => {
    const business = await createBusiness(api);
    const session = `times-${randomUUID()}`;
    const inserted = await insertJobs(api, business, session, 10, 1); // one a second from 2026-11-01T00:00:00Z
    const range = await api.request('GET', `/jobs?session_id=${session}&since=${encodeURIComponent('2026-11-01T00:00:03Z')}&until=${encodeURIComponent('2026-11-01T00:00:07Z')}`, { token: business.api_key });
    assert.equal(range.status, 200, range.text);
    assert.deepEqual(ids(range.body.jobs), inserted.slice(3, 7).reverse());
    const backwards = await api.request('GET', `/jobs?since=${encodeURIComponent('2026-11-02T00:00:00Z')}&until=${encodeURIComponent('2026-11-01T00:00:00Z')}`, { token: business.api_key });
    assert.equal(backwards.status, 400);
    assert.match(backwards.body.error.message, /since/);
    const none = await api.request('GET', `/jobs?status=running&session_id=${session}`, { token: business.api_key });
    assert.deepEqual(none.body, { jobs: [], next_cursor: null });
  });

  it('keeps each business to its own sessions and jobs: another\'s session is 404, as is a missing one', async () => {
    const a = await createBusiness(api);
    const b = await createBusiness(api);
    const session = `shared-name-${randomUUID()}`;
    const chat = await submitChat(api, a, { session_id: session, message: 'private matter' });

    for (const path of [`/sessions/${session}`, `/sessions/${session}?business_id=${a.id}`, `/sessions/never-used-${randomUUID()}`]) {
      const res = await api.request('GET', path, { token: b.api_key });
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'session_not_found');
      assert.equal(res.text.includes('private matter'), false);
    }
    const bJobs = await api.request('GET', '/jobs?limit=200', { token: b.api_key });
    assert.deepEqual(bJobs.body.jobs, []);
    const bAsksForA = await api.request('GET', `/jobs?business_id=${a.id}`, { token: b.api_key });
    assert.deepEqual(bAsksForA.body.jobs, []);
    const aJobs = await api.request('GET', '/jobs', { token: a.api_key });
    assert.deepEqual(ids(aJobs.body.jobs), [chat.body.job_id]);

    const noBusiness = await api.request('GET', `/sessions/${session}`, { token: api.adminToken });
    assert.equal(noBusiness.status, 400);
    assert.match(noBusiness.body.error.message, /business_id/);
    const asOperator = await api.request('GET', `/sessions/${session}?business_id=${a.id}`, { token: api.adminToken });
    assert.equal(asOperator.status, 200);
    assert.equal(asOperator.body.turns[0].message, 'private matter');

    const miner = await registerMiner(api);
    assert.equal((await api.request('GET', `/sessions/${session}`, { token: miner.auth_key })).status, 401);
    assert.equal((await api.request('GET', '/jobs', { token: miner.auth_key })).status, 401);
  });

  it('refuses a cursor that is not one the list gave, naming cursor', async () => {
    const business = await createBusiness(api);
    await submitChat(api, business, { session_id: 's-cursor' });
    const impossible = Buffer.from('2026-02-30T00:00:00.000000Z,00000000-0000-4000-8000-000000000000').toString('base64url');
    const wrongShape = Buffer.from('2026-02-01T00:00:00.000Z,42').toString('base64url');
    for (const cursor of ['garbage!', 'Z2FyYmFnZQ', impossible, wrongShape, 'MTIz']) {
      for (const [path, token] of [
        ['/jobs', business.api_key],
        ['/sessions/s-cursor', business.api_key],
        ['/miners', business.api_key],
        ['/businesses', api.adminToken],
      ] as const) {
        const res = await api.request('GET', `${path}?cursor=${encodeURIComponent(cursor)}`, { token });
        assert.equal(res.status, 400, `${path} ${cursor}: ${res.text}`);
        assert.match(res.body.error.message, /cursor/, path);
      }
    }
    assert.equal((await api.request('GET', '/jobs?limit=0', { token: business.api_key })).status, 400);
    assert.equal((await api.request('GET', '/jobs?limit=201', { token: business.api_key })).status, 400);
  });
});

describe('miners, businesses and the queue, read back', () => {
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  it('shows a business what miners serve, never their names, GPUs, reasons or addresses; pages through them', async () => {
    const business = await createBusiness(api);
    const registered: TestMiner[] = [];
    for (let i = 0; i < 5; i += 1) {
      registered.push(await registerMiner(api, { name: `alice-rig-${i}-${randomUUID().slice(0, 4)}`, gpu_name: 'RTX 4090 in my attic', ip_address: '203.0.113.9', model: 'qwen-7b', context_length: 8192 }));
    }
    await api.request('POST', `/miner/${registered[0]!.miner_id}/status`, { token: registered[0]!.auth_key, body: { status: 'draining', reason: 'going on holiday, back Monday' } });

    const asBusiness = await walk(api, '/miners', business.api_key, 'miners', 2);
    // Oldest first; this suite's first test registers before the others run.
    assert.deepEqual(ids(asBusiness.rows, 'miner_id'), registered.map((m) => m.miner_id));
    const text = JSON.stringify(asBusiness.rows);
    for (const secret of ['alice-rig', 'RTX 4090', '203.0.113.9', 'holiday']) assert.equal(text.includes(secret), false, secret);
    for (const row of asBusiness.rows) {
      assert.deepEqual(Object.keys(row).sort(), ['context_length', 'created_at', 'job_count', 'last_active', 'miner_id', 'model', 'slots', 'status', 'tokens_per_second', 'total_tokens_generated']);
      assert.equal(row.model, 'qwen-7b');
    }

    const asOperator = await walk(api, '/miners', api.adminToken, 'miners', 3);
    const first = asOperator.rows.find((m) => m.miner_id === registered[0]!.miner_id)!;
    assert.equal(first.name, registered[0]!.name);
    assert.equal(first.ip_address, '203.0.113.9');
    assert.equal(first.status_reason, 'going on holiday, back Monday');
    const asMiner = await api.request('GET', '/miners', { token: registered[1]!.auth_key });
    assert.equal(asMiner.body.miners[0].name, registered[0]!.name);
    assert.equal('ip_address' in asMiner.body.miners[0], false);
  });

  it('lists businesses with this month\'s usage to the operator only', async () => {
    const business = await createBusiness(api);
    await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { monthly_token_budget: 100_000 } });
    const miner = await registerMiner(api);
    await submitChat(api, business);
    const job = await claimJob(api, miner);
    assert.equal((await postResult(api, miner, job.body, { tokens_generated: 12, prompt_tokens: 30 })).status, 200);
    await submitChat(api, business); // queued: holds a reservation
    const others = [await createBusiness(api), await createBusiness(api), await createBusiness(api)];

    const listed = await walk(api, '/businesses', api.adminToken, 'businesses', 2);
    const mine = new Set([business, ...others].map((b) => b.id));
    assert.equal(new Set(ids(listed.rows, 'id')).size, listed.rows.length, 'every one once');
    assert.deepEqual(ids(listed.rows, 'id').filter((id) => mine.has(id)), [business, ...others].map((b) => b.id), 'oldest first');
    const total = await withClient(api.databaseUrl, async (c) => Number((await c.query('SELECT count(*) FROM mia.businesses')).rows[0].count));
    assert.equal(listed.rows.length, total);
    const row = listed.rows.find((r) => r.id === business.id) as { usage: Record<string, number>; name: string };
    assert.equal(row.name, business.name);
    assert.equal(row.usage.jobs_this_month, 1);
    assert.equal(row.usage.tokens_this_month, 42);
    assert.equal(row.usage.monthly_token_budget, 100_000);
    assert.ok((row.usage.reserved ?? 0) > 0, 'the queued job holds tokens');
    assert.equal((listed.rows.find((r) => r.id === others[0]!.id) as { usage: { monthly_token_budget: null } }).usage.monthly_token_budget, null);
    assert.equal(JSON.stringify(listed.rows).includes('api_key'), false);

    const refused = await api.request('GET', '/businesses', { token: business.api_key });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'forbidden');
    assert.equal((await api.request('GET', '/businesses', { token: miner.auth_key })).status, 401);
  });

  it('shows the operator the queue: waiting, running, unroutable, per model, failures of the last hour', async () => {
    const business = await createBusiness(api);
    // Earlier tests' miners are online; take them offline so this test knows who is.
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.miners SET status = 'offline'`));
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET status = 'cancelled', lease_expires_at = NULL WHERE status IN ('queued', 'running')`));
    const qwen = await registerMiner(api, { model: 'qwen-7b', context_length: 4096, slots: 2 });
    const llama = await registerMiner(api, { model: 'llama-8b', context_length: 4096 });
    const mistral = await registerMiner(api, { model: 'mistral-7b', context_length: 4096 });

    await submitChat(api, business, { model: 'qwen-7b' });
    await submitChat(api, business, { model: 'qwen-7b' });
    const running = await claimJob(api, qwen);
    assert.equal(running.status, 200);
    // The only miner of its model leaves; the business waits for another: unroutable meanwhile.
    const stranded = await submitChat(api, business, { model: 'mistral-7b', queue_timeout: 600 });
    assert.equal(stranded.status, 202, stranded.text);
    await api.request('POST', `/miner/${mistral.miner_id}/status`, { token: mistral.auth_key, body: { status: 'offline' } });
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET status = 'failed', completed_at = now() - interval '2 hours' WHERE status = 'cancelled'`));

    const res = await api.request('GET', '/queue', { token: api.adminToken });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.queued, 2);
    assert.equal(res.body.running, 1);
    assert.equal(res.body.unroutable, 1);
    assert.equal(res.body.miners_online, 2);
    assert.equal(res.body.failed_last_hour, 0, 'failures older than an hour do not count');
    assert.ok(res.body.oldest_queued_seconds >= 0);
    assert.deepEqual(res.body.by_model, [
      { model: 'llama-8b', queued: 0, running: 0, miners_online: 1 },
      { model: 'mistral-7b', queued: 1, running: 0, miners_online: 0 },
      { model: 'qwen-7b', queued: 1, running: 1, miners_online: 1 },
    ]);

    await api.request('DELETE', `/job/${stranded.body.job_id}`, { token: business.api_key });
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET status = 'failed', completed_at = now() WHERE id = $1`, [stranded.body.job_id]));
    const after = await api.request('GET', '/queue', { token: api.adminToken });
    assert.equal(after.body.failed_last_hour, 1);
    assert.equal(after.body.unroutable, 0);

    const refused = await api.request('GET', '/queue', { token: business.api_key });
    assert.equal(refused.status, 403);
    assert.equal((await api.request('GET', '/queue', { token: llama.auth_key })).status, 401);
  });

  it('answers an empty queue with nulls, not zeros, for the oldest age', async () => {
    await withClient(api.databaseUrl, (c) => c.query(`UPDATE mia.jobs SET status = 'cancelled', lease_expires_at = NULL WHERE status IN ('queued', 'running')`));
    const res = await api.request('GET', '/queue', { token: api.adminToken });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.queued, 0);
    assert.equal(res.body.oldest_queued_seconds, null);
  });
});
