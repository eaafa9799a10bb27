// What a customer is shown is checked, not taken on a stranger's word (issue 16,
// items 1, 2 and 6). Scripted miners over HTTP misbehave on purpose against the
// real API on Postgres: a phishing streamer whose result contradicts its deltas,
// answers carrying contacts the business never gave, a delta flood, a miner
// posting on another's lease. Invariants are read back in SQL.
import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { eventually } from '../miner/helpers.ts';
import type { TestApi } from '../support/apiServer.ts';
import { collectSse, type SseEvent } from '../support/sse.ts';

type Claimed = { job_id: string; lease_token: string; session_id: string };

/** The text a client following our framing holds: deltas, with a restart wiping what came before. */
function assembled(events: readonly SseEvent[]): { text: string; everShown: string } {
  let text = '';
  let everShown = '';
  for (const e of events) {
    if (e.event === 'restart') text = '';
    if (e.event === 'delta') {
      const piece = (JSON.parse(e.data) as { text: string }).text;
      text += piece;
      everShown += piece;
    }
  }
  return { text, everShown };
}

async function streamOf(api: TestApi, business: TestBusiness, jobId: string) {
  const res = await fetch(`${api.url}/job/${jobId}/stream`, { headers: { authorization: `Bearer ${business.api_key}` } });
  assert.equal(res.status, 200);
  return collectSse(res);
}

async function postDeltas(api: TestApi, miner: TestMiner, job: Claimed, body: Record<string, unknown>) {
  return api.request('POST', `/job/${job.job_id}/deltas`, { token: miner.auth_key, body: { lease_token: job.lease_token, ...body } });
}

async function claim(api: TestApi, miner: TestMiner): Promise<Claimed> {
  const res = await claimJob(api, miner, 5);
  assert.equal(res.status, 200, res.text);
  return res.body as Claimed;
}

const phishing = 'Your card was blocked: re-enter it at http://evil.example/pay';
const honest = 'Your order ships tomorrow.';

describe('stream integrity against hostile miners', function () {
  this.timeout(60_000);
  const testApi = useTestApi({ env: { MIA_SUSPICION_LIMIT: '1000' } });
  const api = () => testApi;

  async function sql<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return withClient(api().databaseUrl, async (c) => (await c.query(text, values)).rows as T[]);
  }

  it('the phishing streamer: its contradicting result is refused, retracted on both stream framings, and an honest miner answers', async () => {
    const business = await createBusiness(api());
    const hostile = await registerMiner(api(), { slots: 2 });
    const honestMiner = await registerMiner(api());

    // Job A followed in our SSE framing; job B by an OpenAI stream client.
    const submitted = await submitChat(api(), business, { message: 'Is my card fine?' });
    assert.equal(submitted.status, 202, submitted.text);
    const jobA = submitted.body.job_id as string;
    const sse = await streamOf(api(), business, jobA);
    const openAiRes = await fetch(`${api().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${business.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mia', stream: true, messages: [{ role: 'user', content: 'Is my card fine?' }] }),
    });
    assert.equal(openAiRes.status, 200);
    const jobB = openAiRes.headers.get('x-mia-job-id')!;
    const openAi = collectSse(openAiRes);

    const claimed = [await claim(api(), hostile), await claim(api(), hostile)];
    for (const job of claimed) {
      const first = phishing.slice(0, 30);
      assert.equal((await postDeltas(api(), hostile, job, { seq: 0, text_start: 0, content: first })).status, 200);
      assert.equal((await postDeltas(api(), hostile, job, { seq: 1, text_start: first.length, content: phishing.slice(30) })).status, 200);
    }
    // Both clients have been shown some of the streamed text before the result comes.
    await eventually(() => sse.events.some((e) => e.event === 'delta'), 10_000);
    await eventually(() => openAi.events.some((e) => e.data.includes('"content":"Your')), 10_000);

    for (const job of claimed) {
      const res = await postResult(api(), hostile, job, { output: honest, tokens_generated: 6 });
      assert.equal(res.status, 422, res.text);
      assert.equal(res.body.error.code, 'result_contradicts_stream');
    }
    const suspicions = await sql<{ job_id: string; reason: string }>(
      `SELECT job_id, reason FROM mia.miner_suspicions WHERE miner_id = $1 ORDER BY job_id`, [hostile.miner_id]);
    assert.deepEqual(suspicions.map((s) => s.reason), ['stream_contradicted', 'stream_contradicted']);
    const retractions = await sql<{ job_id: string; streamed: string; reason: string; business_id: string }>(
      `SELECT job_id, streamed, reason, business_id FROM mia.job_retractions WHERE miner_id = $1`, [hostile.miner_id]);
    assert.equal(retractions.length, 2);
    for (const r of retractions) {
      assert.equal(r.streamed, phishing);
      assert.equal(r.business_id, business.id);
    }
    // The clients are told at once, before any other attempt exists.
    await eventually(() => sse.events.some((e) => e.event === 'restart'), 10_000);
    await openAi.ended;

    // A second, honest miner completes both jobs.
    for (let i = 0; i < 2; i++) {
      const job = await claim(api(), honestMiner);
      assert.equal((await postResult(api(), honestMiner, job, { output: honest, tokens_generated: 6 })).status, 200);
    }
    await sse.ended;

    const stored = await sql<{ id: string; output: string; status: string; attempts: number }>(
      `SELECT id, output, status, attempts FROM mia.jobs WHERE id = ANY($1::uuid[])`, [[jobA, jobB]]);
    for (const job of stored) assert.deepEqual([job.status, job.output, job.attempts], ['completed', honest, 2]);

    // Our framing: restart came before the new attempt's text, and done matches what the client assembled.
    const names = sse.events.map((e) => e.event);
    assert.equal(names.at(-1), 'done', JSON.stringify(sse.events));
    const restartAt = names.indexOf('restart');
    assert.ok(restartAt > names.indexOf('delta'));
    assert.equal(JSON.parse(sse.events[restartAt]!.data).reason, 'result_refused');
    // Before the restart only the refused attempt's text (a prefix of it, the link held back); after it only the new answer.
    const before = assembled(sse.events.slice(0, restartAt)).text;
    assert.ok(phishing.startsWith(before) && !before.includes('evil'), before);
    const { text, everShown } = assembled(sse.events);
    assert.equal(text, honest);
    assert.equal(JSON.parse(sse.events.at(-1)!.data).response, honest);
    assert.ok(!everShown.includes('evil.example'), everShown);

    // OpenAI framing: it cannot take text back, so it ends with the `restarted` error chunk and never [DONE].
    const chunks = openAi.events.map((e) => e.data);
    assert.ok(!chunks.includes('[DONE]'), chunks.join('\n'));
    const error = JSON.parse(chunks.at(-1)!) as { error: { code: string } };
    assert.equal(error.error.code, 'restarted');
    assert.ok(!chunks.join('').includes('evil.example'));
  });

  it('streamed tool-call deltas bind the result: different final tool calls are refused, the same ones pass', async () => {
    const business = await createBusiness(api());
    const miner = await registerMiner(api());
    const streamed = [
      { index: 0, id: 'call_1', type: 'function', function: { name: 'order_status', arguments: '{"order":' } },
      { index: 0, function: { arguments: '"A-1"' } },
    ];
    const finalCall = (order: string) => [{ id: 'call_1', type: 'function', function: { name: 'order_status', arguments: `{"order":"${order}"}` } }];
    for (const [order, status] of [['B-2', 422], ['A-1', 200]] as const) {
      await submitChat(api(), business, { message: 'Where is order A-1?' });
      const job = await claim(api(), miner);
      assert.equal((await postDeltas(api(), miner, job, { seq: 0, text_start: 0, content: '', tool_start: 0, tool_calls: streamed })).status, 200);
      const res = await postResult(api(), miner, job, { output: '', tool_calls: finalCall(order), tokens_generated: 12 });
      assert.equal(res.status, status, res.text);
      if (status === 422) assert.equal(res.body.error.code, 'result_contradicts_stream');
    }
  });

  it('a final answer with an unknown link or phone number is not delivered; the next miner\'s honest answer is', async () => {
    const business = await createBusiness(api());
    for (const output of ['Pay the fee at https://evil.example/fee to release it.', 'Call our hotline on +44 20 7946 0958 today.', 'Write to refunds@evil.example now.']) {
      const hostile = await registerMiner(api());
      const next = await registerMiner(api());
      const res = await submitChat(api(), business, { message: 'Where is my refund?' });
      const jobId = res.body.job_id as string;
      const job = await claim(api(), hostile);
      const refused = await postResult(api(), hostile, job, { output, tokens_generated: 12 });
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.body.error.code, 'result_contact_forbidden');
      const [row] = await sql<{ status: string; error: string }>(`SELECT status, error FROM mia.jobs WHERE id = $1`, [jobId]);
      assert.equal(row!.status, 'queued');
      assert.match(row!.error, /contact guardrail/);
      const [suspicion] = await sql<{ reason: string }>(`SELECT reason FROM mia.miner_suspicions WHERE miner_id = $1`, [hostile.miner_id]);
      assert.equal(suspicion!.reason, 'contact_guardrail');

      const retry = await claim(api(), next);
      assert.equal(retry.job_id, jobId);
      assert.equal((await postResult(api(), next, retry, { output: honest, tokens_generated: 6 })).status, 200);
      const [done] = await sql<{ status: string; output: string }>(`SELECT status, output FROM mia.jobs WHERE id = $1`, [jobId]);
      assert.deepEqual(done, { status: 'completed', output: honest });
    }
  });

  it('contacts the business gave (system prompt, context, allow-list) pass, and anything passes with the guardrail off', async () => {
    const business = await createBusiness(api(), { system_prompt: 'You help customers of Spoke & Chain. Our shop: https://spoke.example, phone +1 415 555 2671.' });
    const patched = await api().request('PATCH', `/businesses/${business.id}`, { token: api().adminToken, body: { contact_allowlist: ['partner.example', 'help@spoke.example'] } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual([patched.body.contact_guardrail, patched.body.contact_allowlist], [true, ['partner.example', 'help@spoke.example']]);
    const miner = await registerMiner(api());
    const cases = [
      // From the system prompt (any subdomain, the number in another format), an honest date, price, order and version.
      { body: {}, output: 'See https://www.spoke.example/orders or docs.spoke.example, or call (415) 555-2671. On 2024-05-01 you paid $1,234.56 for order 123456789; we run Node.js 24 and v1.2.3.' },
      // From the request's context.
      { body: { context: 'Courier: tracking at track.courier.example, desk 020 7946 0958' }, output: 'Track it at https://track.courier.example/123 or call 020 7946 0958.' },
      // From the allow-list.
      { body: {}, output: 'Our partner https://partner.example/bikes helps; mail HELP@spoke.example.' },
    ];
    for (const { body, output } of cases) {
      await submitChat(api(), business, { message: 'Where is my order?', ...body });
      const job = await claim(api(), miner);
      const res = await postResult(api(), miner, job, { output, tokens_generated: 40 });
      assert.equal(res.status, 200, `${output}: ${res.text}`);
    }
    const off = await api().request('PATCH', `/businesses/${business.id}`, { token: api().adminToken, body: { contact_guardrail: false } });
    assert.equal(off.body.contact_guardrail, false);
    assert.equal((await api().request('GET', `/businesses/${business.id}`, { token: business.api_key })).body.contact_guardrail, false);
    await submitChat(api(), business, { message: 'Where is my order?' });
    const job = await claim(api(), miner);
    assert.equal((await postResult(api(), miner, job, { output: 'Try https://elsewhere.example.', tokens_generated: 6 })).status, 200);
    const [count] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM mia.miner_suspicions WHERE miner_id = $1`, [miner.miner_id]);
    assert.equal(count!.n, 0);
  });

  it('a streamed forbidden URL is never shown to an SSE client, even cut across batches', async () => {
    const business = await createBusiness(api());
    const hostile = await registerMiner(api());
    const next = await registerMiner(api());
    const jobId = (await submitChat(api(), business, { message: 'Hi' })).body.job_id as string;
    const sse = await streamOf(api(), business, jobId);
    const job = await claim(api(), hostile);
    const pieces = ['Hello there. Please visit http://ev', 'il.example/pay', ' now and type your PIN. Thanks'];
    let start = 0;
    for (const [seq, content] of pieces.entries()) {
      assert.equal((await postDeltas(api(), hostile, job, { seq, text_start: start, content })).status, 200);
      start += content.length;
    }
    await eventually(() => assembled(sse.events).everShown.startsWith('Hello there. Please visit'), 10_000);
    // Its result repeats the stream: refused by the guardrail, not as a contradiction.
    const refused = await postResult(api(), hostile, job, { output: pieces.join(''), tokens_generated: 20 });
    assert.equal(refused.body.error.code, 'result_contact_forbidden');
    const retry = await claim(api(), next);
    assert.equal((await postResult(api(), next, retry, { output: honest, tokens_generated: 6 })).status, 200);
    await sse.ended;
    const { text, everShown } = assembled(sse.events);
    assert.ok(!everShown.includes('evil') && !everShown.includes('PIN'), everShown);
    assert.equal(text, honest);
    assert.equal(sse.events.at(-1)!.event, 'done');
  });

  it('deltas: 40 x 250,000 characters store at most the cap, tool calls count, batches are contiguous, and only the lease holder may post', async () => {
    const business = await createBusiness(api());
    const miner = await registerMiner(api());
    const other = await registerMiner(api());
    const jobId = (await submitChat(api(), business, {})).body.job_id as string;
    const job = await claim(api(), miner);
    const big = 'x'.repeat(250_000);

    // The old attack, seq 1..40 with text_start the miner's word: nothing is stored.
    const gaps = [];
    for (let seq = 1; seq <= 40; seq++) gaps.push((await postDeltas(api(), miner, job, { seq, text_start: 0, content: big })).status);
    assert.deepEqual(new Set(gaps), new Set([409]));
    // Contiguous: the first fits, the rest are refused.
    const statuses = [];
    for (let seq = 0; seq < 40; seq++) statuses.push((await postDeltas(api(), miner, job, { seq, text_start: seq * big.length, content: big })).status);
    assert.equal(statuses[0], 200);
    assert.equal(statuses[1], 413);
    assert.ok(statuses.slice(2).every((s) => s === 409 || s === 413), statuses.join(','));
    // A retried batch is a harmless no-op; a different batch under a stored seq is not.
    const again = await postDeltas(api(), miner, job, { seq: 0, text_start: 0, content: big });
    assert.deepEqual([again.status, again.body.stored], [200, false]);
    const changed = await postDeltas(api(), miner, job, { seq: 0, text_start: 0, content: 'y' });
    assert.equal(changed.body.error.code, 'stream_out_of_order');
    // Tool-call deltas count toward the cap: 250,000 + 13,000 characters of JSON is over 262,144.
    const tools = [{ index: 0, id: 'call_1', type: 'function', function: { name: 'lookup', arguments: 'a'.repeat(13_000) } }];
    const tooMuch = await postDeltas(api(), miner, job, { seq: 1, text_start: big.length, content: '', tool_start: 0, tool_calls: tools });
    assert.equal(tooMuch.status, 413, tooMuch.text);
    // Another miner's key with the lease token is refused.
    const foreign = await postDeltas(api(), other, job, { seq: 1, text_start: big.length, content: 'z' });
    assert.equal(foreign.status, 409);
    assert.equal(foreign.body.error.code, 'lease_lost');

    const [stored] = await sql<{ chars: number; rows: number }>(
      `SELECT coalesce(sum(length(content) + coalesce(length(tool_calls::text), 0)), 0)::int AS chars, count(*)::int AS rows
       FROM mia.job_deltas WHERE job_id = $1 GROUP BY attempt`, [jobId]);
    assert.deepEqual(stored, { chars: big.length, rows: 1 });
    assert.ok(stored!.chars <= 262_144);
  });
  it('a batch that commits while the result waits for the job is screened with the rest: a racing phishing batch is not missed', async () => {
    const business = await createBusiness(api());
    const hostile = await registerMiner(api());
    assert.equal((await submitChat(api(), business, { message: 'Is my card fine?' })).status, 202);
    const job = await claim(api(), hostile);
    const first = 'Your ';
    assert.equal((await postDeltas(api(), hostile, job, { seq: 0, text_start: 0, content: first })).status, 200);

    // Batch 1 as sql/job_delta_append.sql stores it (the job KEY SHARE, then the row), in a
    // transaction this test holds open: the hostile miner's delta post racing its result.
    await withClient(api().databaseUrl, async (append) => {
      await append.query('BEGIN');
      const locked = await append.query<{ attempts: number }>('SELECT attempts FROM mia.jobs WHERE id = $1 FOR KEY SHARE', [job.job_id]);
      const content = phishing.slice(first.length);
      await append.query(
        `INSERT INTO mia.job_deltas (job_id, attempt, seq, text_start, content, tool_start, tool_calls, size_end)
         VALUES ($1, $2, 1, $3, $4, 0, NULL, $5)`,
        [job.job_id, locked.rows[0]!.attempts, first.length, content, first.length + content.length],
      );
      // The result agrees with batch 0 only. It must wait for the job's lock...
      const result = postResult(api(), hostile, job, { output: honest });
      await eventually(async () => {
        const waiting = await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        );
        return waiting[0]!.n === 1;
      }, 10_000, 'the result to wait for the job lock the batch holds');
      // ...and, once the batch is in, screen it too.
      await append.query('COMMIT');
      const res = await result;
      assert.equal(res.status, 422, res.text);
      assert.equal(res.body.error.code, 'result_contradicts_stream');
    });
    const [row] = await sql<{ status: string; output: string | null }>('SELECT status, output FROM mia.jobs WHERE id = $1', [job.job_id]);
    assert.notEqual(row!.status, 'completed');
    assert.equal(row!.output, null);
  });
});
