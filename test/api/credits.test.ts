import assert from 'node:assert/strict';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestMiner } from '../support/factories.ts';
import { sql } from '../maintenance/support.ts';
import { grantTrust } from '../../api/maintenance/trustGrant.ts';
import { creditOnlineMiners } from '../../api/maintenance/uptimeCredit.ts';

const model = 'qwen2.5-7b-instruct-q4_k_m.gguf';

async function discrepancies(api: TestApi) {
  return sql(api.databaseUrl, 'SELECT * FROM mia.credit_discrepancies()');
}

async function jobCredits(api: TestApi, miner: TestMiner) {
  const [row] = await sql<{ credits: string | null; rows: number }>(
    api.databaseUrl,
    `SELECT sum(credits)::text AS credits, count(*)::int AS rows FROM mia.miner_credits WHERE miner_id = $1 AND kind = 'job'`,
    [miner.miner_id],
  );
  return { credits: Number(row!.credits ?? 0), rows: row!.rows };
}

/** One chat, claimed by `miner`, answered with `result`. */
async function answer(api: TestApi, business: Awaited<ReturnType<typeof createBusiness>>, miner: TestMiner, result: Record<string, unknown>) {
  const chat = await submitChat(api, business, { max_tokens: 1000 });
  assert.equal(chat.status, 202, chat.text);
  const claimed = await claimJob(api, miner);
  assert.equal(claimed.status, 200, claimed.text);
  const posted = await postResult(api, miner, claimed.body, result);
  return { chat, claimed, posted };
}

describe('miner credits, suspicions and suspension', () => {
  const api = useTestApi({ env: { MIA_WORKER: 'off', MIA_TRUST_MIN_JOBS: '3', MIA_TRUST_MIN_DAYS: '1' } });

  it('credits an honest result with completion tokens × the model rate, once however often it is posted', async () => {
    const business = await createBusiness(api);
    const rated = 'mistral-7b-instruct-v0.3-q4_k_m.gguf';
    const miner = await registerMiner(api, { model: rated });
    const { claimed, posted } = await answer(api, business, miner, { output: 'Your bike is ready for pickup.', tokens_generated: 7 });
    assert.equal(posted.status, 200, posted.text);
    const again = await postResult(api, miner, claimed.body, { output: 'Your bike is ready for pickup.', tokens_generated: 7 });
    assert.equal(again.body.outcome, 'duplicate');
    assert.deepEqual(await jobCredits(api, miner), { credits: 7, rows: 1 });

    const rate = await api.request('PUT', `/models/${rated}/rate`, { token: api.adminToken, body: { credits_per_token: 2.5, reason: 'test' } });
    assert.equal(rate.status, 200, rate.text);
    await answer(api, business, miner, { output: 'Open until 18:00 today.', tokens_generated: 6 });
    assert.deepEqual(await jobCredits(api, miner), { credits: 7 + 15, rows: 2 });
    assert.deepEqual(await discrepancies(api), []);
  });

  it('gives no credit and a suspicion for 10,000 tokens on a five-character answer; the fifth suspends the miner', async () => {
    const business = await createBusiness(api);
    const liar = await registerMiner(api, { model, slots: 2 }) // holds one job while it lies on others;
    // A job the liar holds while it lies: it must go back to the queue on suspension.
    await submitChat(api, business);
    const held = await claimJob(api, liar);
    assert.equal(held.status, 200);

    for (let i = 1; i <= 5; i++) {
      const { posted } = await answer(api, business, liar, { output: 'Hello', tokens_generated: 10_000 });
      assert.equal(posted.status, 200, 'the answer itself is stored: the business gets it');
      const [count] = await sql<{ n: number }>(api.databaseUrl, 'SELECT count(*)::int AS n FROM mia.miner_suspicions WHERE miner_id = $1', [liar.miner_id]);
      assert.equal(count!.n, i);
      const [standing] = await sql<{ suspended: boolean }>(api.databaseUrl, 'SELECT suspended_at IS NOT NULL AS suspended FROM mia.miners WHERE id = $1', [liar.miner_id]);
      assert.equal(standing!.suspended, i === 5, `suspended after suspicion ${i}?`);
    }
    const [suspicion] = await sql<{ reason: string; figures: { tokens_generated: number; bound: number } }>(
      api.databaseUrl, 'SELECT reason, figures FROM mia.miner_suspicions WHERE miner_id = $1 ORDER BY id LIMIT 1', [liar.miner_id]);
    assert.equal(suspicion!.reason, 'tokens_implausible');
    assert.equal(suspicion!.figures.tokens_generated, 10_000);
    assert.equal(suspicion!.figures.bound, 5 + 16);
    assert.deepEqual(await jobCredits(api, liar), { credits: 0, rows: 0 });

    const [heldJob] = await sql<{ status: string; miner_id: string | null }>(api.databaseUrl, 'SELECT status, miner_id FROM mia.jobs WHERE id = $1', [held.body.job_id]);
    assert.deepEqual(heldJob, { status: 'queued', miner_id: null });
    const refused = await claimJob(api, liar);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'miner_suspended');
    const late = await postResult(api, liar, held.body, { output: 'Hello', tokens_generated: 2 });
    assert.equal(late.status, 409, 'its released job is no longer its own');

    const reinstated = await api.request('PATCH', `/miners/${liar.miner_id}`, { token: api.adminToken, body: { suspended: false, reason: 'owner fixed the client' } });
    assert.equal(reinstated.status, 200, reinstated.text);
    assert.equal((await claimJob(api, liar)).status, 200, 'claims work again after reinstatement');
    assert.deepEqual(await discrepancies(api), []);
  });

  it('suspects a result faster than the model can generate and prompt tokens larger than the prompt', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { model: 'llama-3.1-70b-instruct-q4_k_m.gguf' });
    // 900 tokens in the milliseconds between claim and post: ceiling 20000/70 ≈ 286 tok/s.
    await answer(api, business, miner, { output: 'word '.repeat(900), tokens_generated: 900 });
    await answer(api, business, miner, { output: 'Fine.', tokens_generated: 2, prompt_tokens: 1_000_000 });
    const rows = await sql<{ reason: string }>(api.databaseUrl, 'SELECT reason FROM mia.miner_suspicions WHERE miner_id = $1 ORDER BY id', [miner.miner_id]);
    assert.deepEqual(rows.map((r) => r.reason), ['too_fast', 'prompt_tokens_implausible']);
    assert.deepEqual(await jobCredits(api, miner), { credits: 0, rows: 0 });
  });

  it('the operator suspends with a reason: running jobs go back, claims get 403 miner_suspended', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    await submitChat(api, business);
    const held = await claimJob(api, miner);
    const res = await api.request('PATCH', `/miners/${miner.miner_id}`, { token: api.adminToken, body: { suspended: true, reason: 'abuse report' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.jobs_released, 1);
    const [job] = await sql<{ status: string }>(api.databaseUrl, 'SELECT status FROM mia.jobs WHERE id = $1', [held.body.job_id]);
    assert.equal(job!.status, 'queued');
    const refused = await claimJob(api, miner);
    assert.equal(refused.body.error.code, 'miner_suspended');
    assert.match(refused.body.error.message, /abuse report/);
    const byMiner = await api.request('PATCH', `/miners/${miner.miner_id}`, { token: miner.auth_key, body: { suspended: false, reason: 'me' } });
    assert.equal(byMiner.status, 401, 'only the operator reinstates');
  });

  it('credits work on a job the business cancelled after the claim, and only the holder\'s', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { model });
    await submitChat(api, business);
    const claimed = await claimJob(api, miner);
    assert.equal((await api.request('DELETE', `/job/${claimed.body.job_id}`, { token: business.api_key })).status, 200);
    const late = await postResult(api, miner, claimed.body, { output: 'We open at nine.', tokens_generated: 5 });
    assert.equal(late.status, 409);
    assert.match(late.body.error.message, /credited/);
    await postResult(api, miner, claimed.body, { output: 'We open at nine.', tokens_generated: 5 });
    assert.deepEqual(await jobCredits(api, miner), { credits: 5, rows: 1 });
    assert.deepEqual(await discrepancies(api), []);
  });

  it('keeps the ledger append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api);
    await answer(api, business, miner, { output: 'Yes.', tokens_generated: 2 });
    for (const statement of [
      `UPDATE mia.miner_credits SET credits = credits * 100 WHERE miner_id = '${miner.miner_id}'`,
      `DELETE FROM mia.miner_credits WHERE miner_id = '${miner.miner_id}'`,
      'TRUNCATE mia.miner_credits',
    ]) {
      await assert.rejects(sql(api.databaseUrl, statement), /append-only/, statement);
    }
    assert.deepEqual(await jobCredits(api, miner), { credits: 2, rows: 1 });
  });

  it('holds a new miner\'s credits pending until N jobs over D days, frozen by a suspicion in escrow', async () => {
    const business = await createBusiness(api);
    const db = api.server.ctx.db;
    const trust = { minJobs: 3, minDays: 1 };
    const honest = await registerMiner(api, { model });
    const suspect = await registerMiner(api, { model });
    for (let i = 0; i < 3; i++) {
      await answer(api, business, honest, { output: 'Thanks for asking!', tokens_generated: 4 });
      await answer(api, business, suspect, { output: 'Thanks for asking!', tokens_generated: 4 });
    }
    await answer(api, business, suspect, { output: 'Hi', tokens_generated: 5000 });
    const state = async (m: TestMiner) => (await api.request('GET', `/miners/${m.miner_id}/credits`, { token: m.auth_key })).body;

    await grantTrust(db, trust);
    assert.equal((await state(honest)).state, 'pending', 'three jobs but registered less than a day ago');
    assert.deepEqual((await state(honest)).totals, { pending: 12, frozen: 0, available: 0 });
    assert.equal((await state(suspect)).state, 'frozen');

    await sql(api.databaseUrl, `UPDATE mia.miners SET created_at = now() - interval '2 days' WHERE id = ANY($1)`, [[honest.miner_id, suspect.miner_id]]);
    assert.equal((await grantTrust(db, trust)).miners_trusted, 1);
    const after = await state(honest);
    assert.equal(after.state, 'available');
    assert.deepEqual(after.totals, { pending: 0, frozen: 0, available: 12 });
    assert.equal((await state(suspect)).state, 'frozen', 'a suspicion during escrow keeps it frozen');
    assert.equal((await api.request('GET', `/miners/${honest.miner_id}/credits`, { token: suspect.auth_key })).status, 403);
  });

  it('credits uptime once per interval to online, unsuspended miners', async () => {
    const online = await registerMiner(api);
    const suspended = await registerMiner(api);
    await submitChat(api, await createBusiness(api)); // work it could serve
    await api.request('PATCH', `/miners/${suspended.miner_id}`, { token: api.adminToken, body: { suspended: true, reason: 'test' } });
    const config = { intervalMs: 3_600_000, creditsPerHour: 60 };
    await creditOnlineMiners(api.server.ctx.db, config);
    await creditOnlineMiners(api.server.ctx.db, config);
    const rows = await sql<{ miner_id: string; credits: string }>(api.databaseUrl,
      `SELECT miner_id, credits::text FROM mia.miner_credits WHERE kind = 'uptime' AND miner_id = ANY($1)`, [[online.miner_id, suspended.miner_id]]);
    assert.deepEqual(rows.map((r) => [r.miner_id, Number(r.credits)]), [[online.miner_id, 60]]);
  });

  it('gives no uptime credit to a miner whose context fits no job of the interval, unless it completed work in it', async () => {
    const business = await createBusiness(api);
    // Every job needs its max_tokens and more: none fits 64 tokens of context.
    const tiny = await registerMiner(api, { context_length: 64 });
    const fits = await registerMiner(api, { context_length: 8192 });
    const unknown = await registerMiner(api); // no context reported: fits anything, as in the claim
    assert.equal((await submitChat(api, business, { max_tokens: 200 })).status, 202);
    const config = { intervalMs: 3_600_000, creditsPerHour: 60 };
    await creditOnlineMiners(api.server.ctx.db, config);
    const uptime = async (miners: TestMiner[]) =>
      (await sql<{ miner_id: string }>(api.databaseUrl,
        `SELECT miner_id FROM mia.miner_credits WHERE kind = 'uptime' AND miner_id = ANY($1) ORDER BY miner_id`, [miners.map((m) => m.miner_id)])).map((r) => r.miner_id);
    assert.deepEqual(await uptime([tiny, fits, unknown]), [fits.miner_id, unknown.miner_id].sort());

    // A small miner that completed a job in the interval (here: one routed to it by hand) earns it.
    const small = await registerMiner(api, { context_length: 64 });
    const [waiting] = await sql<{ id: string }>(api.databaseUrl, `SELECT id FROM mia.jobs WHERE status = 'queued' LIMIT 1`);
    await sql(api.databaseUrl, `UPDATE mia.jobs SET need_tokens = 10 WHERE id = $1`, [waiting!.id]);
    const claimed = await claimJob(api, small);
    assert.equal(claimed.status, 200, claimed.text);
    assert.equal((await postResult(api, small, claimed.body, { output: 'Ready at five.', tokens_generated: 4 })).status, 200);
    await sql(api.databaseUrl, `UPDATE mia.jobs SET need_tokens = 100000 WHERE id = $1`, [waiting!.id]); // fits no one now
    await creditOnlineMiners(api.server.ctx.db, { intervalMs: 1_800_000, creditsPerHour: 60 });
    assert.ok((await uptime([small])).includes(small.miner_id), 'completed work in the interval');
    assert.ok(!(await uptime([tiny])).includes(tiny.miner_id), 'still nothing for the idle tiny one');
  });

  it('shows a public leaderboard of miner ids and numbers, no names or IPs', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { model, name: 'secret-name-rig' });
    await answer(api, business, miner, { output: 'All good here!', tokens_generated: 9 });
    const board = await api.request('GET', '/leaderboard?window=all&limit=100');
    assert.equal(board.status, 200, board.text);
    const row = board.body.miners.find((m: { miner_id: string }) => m.miner_id === miner.miner_id);
    assert.equal(row.jobs, 1);
    assert.equal(row.tokens, 9);
    assert.doesNotMatch(board.text, /secret-name-rig|127\.0\.0\.1/);
  });
});

describe('business usage and budgets', () => {
  const api = useTestApi({ env: { MIA_WORKER: 'off' } });

  it('reports a day\'s usage equal to what was submitted, and refuses chats over a 1,000-token budget', async () => {
    const business = await createBusiness(api);
    const miner = await registerMiner(api, { model });
    const set = await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { monthly_token_budget: 1000 } });
    assert.equal(set.status, 200, set.text);
    // A suspected result bills nothing: say the model is tiny, so 300 tokens within milliseconds are believable.
    const profile = await api.request('PUT', `/models/${model}/profile`, { token: api.adminToken, body: { hidden_reasoning: false, parameters_billions: 0.001 } });
    assert.equal(profile.status, 200, profile.text);
    let sent = { jobs: 0, prompt_tokens: 0, completion_tokens: 0 };
    for (let i = 0; i < 3; i++) {
      await answer(api, business, miner, { output: 'word '.repeat(80), tokens_generated: 300, prompt_tokens: 40 });
      sent = { jobs: sent.jobs + 1, prompt_tokens: sent.prompt_tokens + 40, completion_tokens: sent.completion_tokens + 300 };
    }
    const usage = await api.request('GET', `/businesses/${business.id}/usage`, { token: business.api_key });
    assert.equal(usage.status, 200, usage.text);
    assert.deepEqual(usage.body.totals, sent);
    assert.deepEqual(usage.body.days, [{ day: new Date().toISOString().slice(0, 10), model, ...sent }]);
    assert.equal(usage.body.budget.used_this_month, 1020);

    const refused = await submitChat(api, business);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.body.error.code, 'budget_exceeded');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    const reset = new Date(refused.body.error.details.resets_at);
    assert.equal(reset.getUTCDate(), 1);
    assert.equal(reset.getUTCHours(), 0);

    const dba = await sql<{ jobs: number }>(api.databaseUrl, 'SELECT jobs::int FROM mia.business_usage_daily WHERE business_id = $1', [business.id]);
    assert.deepEqual(dba, [{ jobs: 3 }]);
    const other = await createBusiness(api);
    assert.equal((await api.request('GET', `/businesses/${business.id}/usage`, { token: other.api_key })).status, 404);
    await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { monthly_token_budget: null } });
    assert.equal((await submitChat(api, business)).status, 202, 'no budget, no limit');
  });
});
