// Proof of work by known answers (issue 21 item 2; README "Proof of work: canaries").
//
// A canary is an ordinary job of an operator-owned business: a support question from
// api/trust/canaryPrompts.ts, greedy decoding (temperature 0, a fixed seed), submitted
// through the same path as a customer's message, claimed by the same statement and
// returned with the same fields. Only jobs.canary_prompt, which no miner ever sees,
// marks it. Its answer is compared with the known answer for (model, prompt,
// max_tokens): the one a miner the operator trusts gave, or else the one
// MIA_CANARY_AGREEMENT independent miners agreed on. Below tolerance
// (api/trust/canaryTolerance.ts) the miner gets a `canary_mismatch` suspicion, counted
// toward suspension like any other; MIA_CANARY_VERIFY_COUNT passes in a row make it
// `verified` for the model (the 'verified' pool, README "Pools"). Canaries earn nothing
// and bill no one: api/credits/creditResults.ts takes them out before crediting.
import { randomInt, randomUUID } from 'node:crypto';
import type { CommonQueryMethods } from 'slonik';
import type { AppContext } from '../context.ts';
import type { Config } from '../config.ts';
import { createChatJob } from '../jobs/createChatJob.ts';
import { trust, type CanaryJobRow, type CanaryKey, type PendingAnswer } from '../store/trust.ts';
import { canaryPrompts } from './canaryPrompts.ts';
import { canaryAgrees, type Tolerance } from './canaryTolerance.ts';

type Ctx = Pick<AppContext, 'db' | 'config'>;

export function canaryTolerance(config: Config): Tolerance {
  return { minChars: config.MIA_CANARY_MIN_AGREE_CHARS, share: config.MIA_CANARY_MIN_AGREE_SHARE };
}

/** The seed a canary of this prompt asks for: fixed, so every miner gets the same request. */
export function canarySeed(promptIndex: number): number {
  return 7919 * (promptIndex + 1);
}

/** Submit `count` canaries for `model`, each with a prompt drawn from the pool. Returns the job ids. */
export async function createCanaries(ctx: Ctx, model: string, count: number, promptIndex?: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const index = promptIndex ?? randomInt(canaryPrompts.length);
    const prompt = canaryPrompts[index]!;
    const business = await trust.canaryBusiness(ctx.db, businessName(prompt.system), prompt.system);
    if (!business) throw new Error('no canary business was found or made');
    const { jobId } = await createChatJob(ctx, {
      business: { id: business.id, systemPrompt: business.system_prompt, priority: business.priority },
      sessionId: randomUUID(),
      newSession: true,
      message: prompt.message,
      context: null,
      maxTokens: ctx.config.MIA_CANARY_MAX_TOKENS,
      temperature: 0,
      tools: undefined,
      toolChoice: undefined,
      sampling: { seed: canarySeed(index) },
      callbackUrl: null,
      idempotencyKey: null,
      waits: false,
      // Never refused at submit: the task only asks for models miners serve now.
      waitsForMiner: true,
      model,
      canaryPrompt: index,
    });
    ids.push(jobId);
  }
  return ids;
}

/** "You are the support assistant of Velo Rapide, a …" → "Velo Rapide". */
function businessName(system: string): string {
  const match = /of ([A-Z][\w ]+?)(?:,|\.)/.exec(system);
  return match?.[1] ?? system.slice(0, 40);
}

/** One tick of the canary task: MIA_CANARY_RATE per online miner per hour, per model. */
export async function topUpCanaries(ctx: Ctx, intervalMs: number, random: () => number = Math.random): Promise<{ canaries: number }> {
  if (ctx.config.MIA_CANARY_RATE === 0) return { canaries: 0 };
  let made = 0;
  for (const { model, miners, queued } of await trust.canaryDemand(ctx.db)) {
    const owed = (miners * ctx.config.MIA_CANARY_RATE * intervalMs) / 3_600_000;
    // Stochastic rounding: a rate below one per tick still comes out right on average.
    const count = Math.min(Math.floor(owed) + (random() < owed % 1 ? 1 : 0), Math.max(0, miners - queued));
    if (count > 0) made += (await createCanaries(ctx, model, count)).length;
  }
  return { canaries: made };
}

/**
 * Judge the canaries among a miner's accepted results, in the transaction that
 * completed them. Returns the miners that got a new suspicion (the caller runs
 * suspendIfDue for each after the commit): answers that waited for a known answer
 * are judged when it is established, so they may be other miners'.
 */
export async function judgeCanaries(ctx: Ctx, tx: CommonQueryMethods, minerId: string, rows: readonly CanaryJobRow[]): Promise<Set<string>> {
  const suspected = new Set<string>();
  const note = (ids: readonly string[]) => ids.forEach((id) => suspected.add(id));
  for (const row of rows) {
    if (row.status !== 'completed') continue;
    const key: CanaryKey = { model: row.model, prompt_index: row.prompt_index, max_tokens: row.max_tokens };
    const answer = { job_id: row.job_id, attempt: row.attempt, miner_id: minerId, output: row.output };
    if (row.operator_trusted) {
      // The operator vouches for this miner: its answer is the reference.
      const set = await trust.setExpectation(tx, key, row.output, 'trusted');
      await trust.recordAnswer(tx, key, { ...answer, verdict: 'reference', agreed_chars: null });
      if (set) note(await judgePending(ctx, tx, key, set.expected));
      continue;
    }
    const known = await trust.expectation(tx, key);
    if (known) {
      note(await judgeOne(ctx, tx, key, answer, known.expected, true));
      continue;
    }
    await trust.recordAnswer(tx, key, { ...answer, verdict: 'pending', agreed_chars: null });
    const agreed = agreementOf(await trust.pendingAnswers(tx, key), row.output, ctx.config);
    if (agreed) {
      await trust.setExpectation(tx, key, row.output, 'agreement');
      note(await judgePending(ctx, tx, key, row.output));
    }
  }
  return suspected;
}

/**
 * Whether MIA_CANARY_AGREEMENT independent answers (distinct miners, distinct
 * registration addresses, distinct owner businesses) agree with `output`. A person
 * with many identities on one address counts once; one with many addresses is what
 * a trusted reference is for (README: what canaries cannot catch).
 */
function agreementOf(pending: readonly PendingAnswer[], output: string, config: Config): boolean {
  const tolerance = canaryTolerance(config);
  const sources = new Set<string>();
  const owners = new Set<string>();
  for (const p of pending) {
    if (!canaryAgrees(output, p.output, tolerance).pass || !canaryAgrees(p.output, output, tolerance).pass) continue;
    const source = p.registered_from ?? `operator:${p.miner_id}`;
    if (sources.has(source) || (p.owner_business_id && owners.has(p.owner_business_id))) continue;
    sources.add(source);
    if (p.owner_business_id) owners.add(p.owner_business_id);
  }
  return sources.size >= config.MIA_CANARY_AGREEMENT;
}

async function judgePending(ctx: Ctx, tx: CommonQueryMethods, key: CanaryKey, expected: string): Promise<string[]> {
  const suspected: string[] = [];
  for (const p of await trust.pendingAnswers(tx, key)) suspected.push(...(await judgeOne(ctx, tx, key, p, expected, false)));
  return suspected;
}

async function judgeOne(
  ctx: Ctx,
  tx: CommonQueryMethods,
  key: CanaryKey,
  answer: { job_id: string; attempt: number; miner_id: string; output: string },
  expected: string,
  fresh: boolean,
): Promise<string[]> {
  const { pass, agreed, required } = canaryAgrees(expected, answer.output, canaryTolerance(ctx.config));
  const verdict = pass ? 'pass' : 'fail';
  const recorded = fresh
    ? await trust.recordAnswer(tx, key, { ...answer, verdict, agreed_chars: agreed })
    : await trust.judgeAnswer(tx, { job_id: answer.job_id, attempt: answer.attempt, verdict, agreed_chars: agreed });
  if (!recorded) return []; // judged before (a repeated result)
  await trust.recordVerification(tx, answer.miner_id, key.model, pass, ctx.config.MIA_CANARY_VERIFY_COUNT);
  if (pass) return [];
  const figures = { model: key.model, agreed_chars: agreed, required_chars: required, expected_chars: expected.length, output_chars: answer.output.length };
  return (await trust.recordSuspicion(tx, answer.miner_id, answer.job_id, answer.attempt, figures)) ? [answer.miner_id] : [];
}
