// What a business pays and what the public counters say are the backend's
// figures, not a miner's word (issue 16, items 3 and 4). Each test lets a
// miner lie on purpose, or a business flood its budget, and reads the
// invariants back in SQL.
import assert from 'node:assert/strict';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { sql } from '../maintenance/support.ts';

type Figures = { tokens_generated: number | null; prompt_tokens: number | null; tokens_reported: number | null };

async function jobFigures(api: TestApi, jobId: string): Promise<Figures> {
  const [row] = await sql<Figures>(
    api.databaseUrl,
    'SELECT tokens_generated, prompt_tokens, tokens_reported FROM mia.jobs WHERE id = $1',
    [jobId],
  );
  return row!;
}

async function usageOf(api: TestApi, business: TestBusiness) {
  const [row] = await sql<{ jobs: number; tokens: string }>(
    api.databaseUrl,
    'SELECT count(*)::int AS jobs, coalesce(sum(prompt_tokens::bigint + completion_tokens), 0)::text AS tokens FROM mia.job_usage WHERE business_id = $1',
    [business.id],
  );
  return { jobs: row!.jobs, tokens: Number(row!.tokens) };
}

async function counters(api: TestApi, miner: TestMiner) {
  const [row] = await sql<{ job_count: number; total: string }>(
    api.databaseUrl,
    'SELECT job_count::int AS job_count, total_tokens_generated::text AS total FROM mia.miners WHERE id = $1',
    [miner.miner_id],
  );
  return { job_count: row!.job_count, total_tokens_generated: Number(row!.total) };
}

async function consistent(api: TestApi) {
  assert.deepEqual(await sql(api.databaseUrl, 'SELECT * FROM mia.credit_discrepancies()'), []);
  assert.deepEqual(await sql(api.databaseUrl, 'SELECT * FROM mia.usage_discrepancies()'), []);
}

async function answer(api: TestApi, business: TestBusiness, miner: TestMiner, result: Record<string, unknown>, chat: Record<string, unknown> = {}) {
  const submitted = await submitChat(api, business, chat);
  assert.equal(submitted.status, 202, submitted.text);
  const claimed = await claimJob(api, miner);
  assert.equal(claimed.status, 200, claimed.text);
  const posted = await postResult(api, miner, claimed.body, result);
  assert.equal(posted.status, 200, posted.text);
  return claimed.body.job_id as string;
}

describe('the backend\'s own accounting against lying miners', () => {
  const api = useTestApi({ env: { MIA_WORKER: 'off', MIA_SUSPICION_LIMIT: '1000' } });
  // Sizes unknown to the operator: the strict text bound applies.
  const model = 'mystery-model.gguf';

  it('a 100,000-token lie on a 26-byte answer bills nothing and counts nothing; the business still chats', async () => {
    const business = await createBusiness(api);
    await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { monthly_token_budget: 50_000 } });
    const liar = await registerMiner(api, { model });
    const lie = await answer(api, business, liar, { output: 'Your order ships tomorrow.', tokens_generated: 100_000 });
    const promptLie = await answer(api, business, liar, { output: 'Open 9-18.', tokens_generated: 4, prompt_tokens: 60_000 });

    // The answers are delivered; the lies are kept only as reported figures.
    assert.deepEqual(await jobFigures(api, lie), { tokens_generated: 0, prompt_tokens: 0, tokens_reported: 100_000 });
    assert.equal((await jobFigures(api, promptLie)).prompt_tokens, 0);
    const result = await api.request('GET', `/job/${lie}/result`, { token: business.api_key });
    assert.equal(result.body.response, 'Your order ships tomorrow.');
    assert.equal(result.body.tokens_generated, 0);
    assert.deepEqual(await usageOf(api, business), { jobs: 2, tokens: 0 });
    assert.deepEqual(await counters(api, liar), { job_count: 0, total_tokens_generated: 0 });
    const listed = await api.request('GET', '/miners', { token: business.api_key });
    const row = (listed.body.miners ?? listed.body).find((m: { id?: string; miner_id?: string }) => (m.id ?? m.miner_id) === liar.miner_id);
    assert.equal(row.total_tokens_generated, 0);
    assert.equal(row.job_count, 0);

    const next = await submitChat(api, business);
    assert.equal(next.status, 202, 'a 50,000-token budget is untouched by the lies');
    await consistent(api);
  });

  it('2^31-1 claimed tokens lock nobody out: chats and usage reads keep working', async () => {
    const business = await createBusiness(api);
    await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { monthly_token_budget: 1_000_000 } });
    const liar = await registerMiner(api, { model });
    await answer(api, business, liar, { output: 'ok', tokens_generated: 2_147_483_647, prompt_tokens: 2_147_483_647 });
    assert.equal((await submitChat(api, business)).status, 202);
    const usage = await api.request('GET', `/businesses/${business.id}/usage`, { token: business.api_key });
    assert.equal(usage.status, 200, usage.text);
    assert.equal(usage.body.budget.used_this_month, 0);
    await consistent(api);
  });

  it('the loose bound of a reasoning model comes from the operator\'s table, never from the name a miner chose', async () => {
    const business = await createBusiness(api);
    const pretender = await registerMiner(api, { model: 'Qwen3-8B-Q4_K_M.gguf' });
    await answer(api, business, pretender, { output: 'ok', tokens_generated: 512 }, { max_tokens: 512 });
    const [suspicion] = await sql<{ reason: string }>(api.databaseUrl, 'SELECT reason FROM mia.miner_suspicions WHERE miner_id = $1', [pretender.miner_id]);
    assert.equal(suspicion?.reason, 'tokens_implausible', 'a reasoning name alone earns nothing for "ok"');

    const profile = await api.request('PUT', '/models/Qwen3-8B-Q4_K_M.gguf/profile', {
      token: api.adminToken,
      body: { hidden_reasoning: true, parameters_billions: 0.001, reason: 'thinks before answering; tiny for the test clock' },
    });
    assert.equal(profile.status, 200, profile.text);
    assert.equal(profile.body.hidden_reasoning, true);
    const honest = await registerMiner(api, { model: 'Qwen3-8B-Q4_K_M.gguf' });
    const job = await answer(api, business, honest, { output: 'ok', tokens_generated: 300 }, { max_tokens: 512 });
    assert.equal((await jobFigures(api, job)).tokens_generated, 300, 'the operator says its thinking is not in the answer');
    const refused = await api.request('PUT', '/models/x/profile', { token: business.api_key, body: { hidden_reasoning: true } });
    assert.equal(refused.status, 401, 'only the operator sets profiles');
    await consistent(api);
  });
});

describe('budgets hold under concurrency', () => {
  const api = useTestApi({
    env: { MIA_WORKER: 'off', MIA_RATE_LIMIT_CHAT_PER_SECOND: '0', MIA_RATE_LIMIT_MINER_PER_SECOND: '0' },
  });

  it('100 concurrent chats on a 1,000-token budget use at most the budget plus one reservation', async () => {
    const business = await createBusiness(api);
    await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { monthly_token_budget: 1000 } });
    // Every answer is worth billing: 120 completion + 40 prompt tokens, all believable.
    await api.request('PUT', '/models/small.gguf/profile', { token: api.adminToken, body: { hidden_reasoning: false, parameters_billions: 0.001 } });
    const miners = await Promise.all([1, 2, 3].map(() => registerMiner(api, { model: 'small.gguf' })));

    let submitting = true;
    const submits = Promise.all(Array.from({ length: 100 }, (_, i) => submitChat(api, business, { message: `Question ${i}`, max_tokens: 150 })))
      .finally(() => { submitting = false; });
    const answering = miners.map(async (miner) => {
      for (;;) {
        const claimed = await claimJob(api, miner);
        if (claimed.status === 204) {
          if (!submitting) return;
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        assert.equal(claimed.status, 200, claimed.text);
        const posted = await postResult(api, miner, claimed.body, { output: 'word '.repeat(30), tokens_generated: 120, prompt_tokens: 40 });
        assert.equal(posted.status, 200, posted.text);
      }
    });
    const responses = await submits;
    await Promise.all(answering);
    // A last sweep: whatever was admitted after the miners saw an empty queue.
    for (;;) {
      const claimed = await claimJob(api, miners[0]!);
      if (claimed.status === 204) break;
      await postResult(api, miners[0]!, claimed.body, { output: 'word '.repeat(30), tokens_generated: 120, prompt_tokens: 40 });
    }

    const statuses = responses.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 202 || s === 429), `only admitted or budget_exceeded: ${statuses.join(',')}`);
    assert.ok(statuses.includes(429), 'the budget refused some');
    for (const refused of responses.filter((r) => r.status === 429)) assert.equal(refused.body.error.code, 'budget_exceeded');
    const [reservation] = await sql<{ biggest: number; open: string }>(
      api.databaseUrl,
      `SELECT max(j.reserved_tokens)::int AS biggest, (SELECT reserved_tokens::text FROM mia.businesses WHERE id = $1) AS open
       FROM mia.jobs AS j WHERE j.business_id = $1`,
      [business.id],
    );
    const used = await usageOf(api, business);
    assert.equal(used.jobs, statuses.filter((s) => s === 202).length, 'every admitted chat was answered and billed');
    assert.ok(used.tokens <= 1000 + reservation!.biggest, `used ${used.tokens} ≤ 1,000 + one reservation (${reservation!.biggest})`);
    assert.equal(Number(reservation!.open), 0, 'finished jobs hold no reservation');
    assert.deepEqual(await sql(api.databaseUrl, 'SELECT * FROM mia.usage_discrepancies()'), []);
  });
});
