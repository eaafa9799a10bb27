// Crediting accepted results. The stream lock (sql/job_stream_lock.sql), the
// plausibility checks, and the completion with its ledger rows (sql/job_complete.sql)
// share one transaction: a job is never completed without its credit or suspicion, and
// never credited without being completed. The checks judge before the completion, on
// the facts the stream lock read under the same locks, so the completion stores the
// accepted figures and credits them in one statement. Work on a job the business
// cancelled while this miner held it is credited the same way, by sql/miner_credit_job.sql.
import type { AppContext } from '../context.ts';
import { jobs, type JudgedResult, type SuccessResult } from '../store/jobs.ts';
import { credits, type FactsRow, type MinerJobEvent, type Verdict } from '../store/credits.ts';
import type { StreamLockRow } from '../store/jobIntegrity.ts';
import { judgeResult } from './plausibility.ts';
import { suspendIfDue } from './suspension.ts';
import { errorFields, log } from '../log.ts';
import { screenResults, type Screened } from '../integrity/screenResults.ts';
import { restoreResults } from '../privacy/restoreResults.ts';
import { trust } from '../store/trust.ts';
import { judgeCanaries } from '../trust/canaries.ts';

/** ranSeconds: how long each completed job ran (completed_at − claimed_at), for the metrics. */
export type CreditedCompletion = { completed: string[]; ranSeconds: number[]; cancelledCredited: string[]; suspicions: number };

/**
 * The figures the backend stands behind: the miner's claims when they are
 * believable, nothing at all when they are not (a suspected result bills the
 * business nothing, earns nothing and counts nothing).
 */
function verdictOf(row: FactsRow, sent: SuccessResult | undefined): Verdict {
  // A cancelled job keeps no output: judge it by what the miner sent.
  const cancelled = row.status === 'cancelled';
  const tokens = row.tokens_generated ?? sent?.tokens_generated ?? 0;
  const promptTokens = row.prompt_tokens ?? (cancelled ? (sent?.prompt_tokens ?? null) : null);
  const suspicion = judgeResult({
    model: row.model,
    hiddenReasoning: row.hidden_reasoning,
    parametersBillions: row.parameters_billions,
    maxTokens: row.max_tokens,
    tokensGenerated: tokens,
    promptTokens,
    outputBytes: cancelled ? Buffer.byteLength(sent?.output ?? '') : row.output_bytes,
    toolCallsBytes: cancelled ? (sent?.tool_calls ? Buffer.byteLength(JSON.stringify(sent.tool_calls)) : 0) : row.tool_calls_bytes,
    promptBytes: row.prompt_bytes,
    messageCount: row.message_count,
    seconds: row.seconds,
  });
  if (suspicion) return { job_id: row.job_id, tokens: 0, prompt_tokens: 0, reason: suspicion.reason, figures: suspicion.figures };
  return { job_id: row.job_id, tokens, prompt_tokens: promptTokens ?? 0, reason: null, figures: null };
}

/**
 * The facts of a job about to be completed: the job's from the stream lock, the miner's
 * figures and the size of its own text (placeholders, not the restored answer) from the result.
 */
function factsOf(lock: StreamLockRow, sent: SuccessResult): FactsRow {
  return {
    job_id: lock.job_id,
    status: 'completed',
    model: lock.model,
    max_tokens: lock.max_tokens,
    tokens_generated: sent.tokens_generated,
    prompt_tokens: sent.prompt_tokens,
    hidden_reasoning: lock.hidden_reasoning,
    parameters_billions: lock.parameters_billions,
    output_bytes: Buffer.byteLength(sent.output),
    tool_calls_bytes: lock.tool_calls_bytes,
    prompt_bytes: lock.prompt_bytes,
    message_count: lock.message_count,
    seconds: lock.seconds,
  };
}

export async function completeAndCredit(
  ctx: AppContext,
  minerId: string,
  results: readonly SuccessResult[],
): Promise<CreditedCompletion & Pick<Screened, 'refused'>> {
  let screened: Screened = { passed: [], refused: [], suspicions: 0, placeholders: new Map(), locked: new Map() };
  let canarySuspects = new Set<string>();
  const outcome = await ctx.db.transaction(async (tx) => {
    screened = await screenResults(ctx, tx, minerId, results); // stream integrity, contact guardrail
    // Judged as sent; stored with the customer's data back in place of the placeholders
    // (api/privacy/). The placeholders screenResults read for these jobs are the ones restored.
    // Canaries (README "Proof of work: canaries") are judged against their known answer
    // and earn nothing, bill no one and count nothing: no verdict, so no ledger row, usage
    // row or counter.
    const restored = restoreResults(screened.passed, screened.placeholders);
    const judged = screened.passed.map((sent, i): JudgedResult => {
      const lock = screened.locked.get(sent.job_id);
      const verdict = lock && !lock.canary ? verdictOf(factsOf(lock, sent), sent) : null;
      return { ...restored[i]!, verdict };
    });
    const completedRows = await jobs.complete(tx, minerId, judged);
    const completed = completedRows.map((r) => r.job_id);
    const ranSeconds = completedRows.map((r) => r.ran_s);
    let suspicions = completedRows[0]?.suspicions ?? 0;
    // Read only when a result may be a canary: a completed job the stream lock saw is a
    // canary, or a result not completed here (the cancelled-work path below must skip canaries).
    const done = new Set(completed);
    const mayHoldCanaries = completed.some((id) => screened.locked.get(id)?.canary) || results.some((r) => !done.has(r.job_id));
    const canaries = mayHoldCanaries ? await trust.canaryJobs(tx, minerId, results.map((r) => r.job_id)) : [];
    canarySuspects = await judgeCanaries(ctx, tx, minerId, canaries);
    const canaryIds = new Set(canaries.map((c) => c.job_id));
    const rest = results.filter((r) => !done.has(r.job_id) && !canaryIds.has(r.job_id));
    const cancelledCredited = rest.length === 0 ? [] : await credits.recordCancelledWork(tx, minerId, rest);
    if (cancelledCredited.length > 0) {
      const sent = new Map(results.map((r) => [r.job_id, r] as const));
      const facts = await credits.facts(tx, minerId, cancelledCredited);
      suspicions += (await credits.creditJobs(tx, minerId, facts.map((row) => verdictOf(row, sent.get(row.job_id))))).suspicions;
    }
    return { completed, ranSeconds, cancelledCredited, suspicions };
  });
  if (outcome.suspicions + screened.suspicions > 0) canarySuspects.add(minerId);
  for (const suspect of canarySuspects) await suspendIfDue(ctx, suspect);
  return { ...outcome, refused: screened.refused };
}

/**
 * Count aborts and refused results toward the per-hour rate checks. Never
 * fails the request it follows: the result itself is already stored.
 */
export async function recordMinerEvents(ctx: AppContext, minerId: string, events: readonly MinerJobEvent[]): Promise<void> {
  if (events.length === 0) return;
  try {
    const counts = await credits.recordEvents(ctx.db, minerId, events);
    const limits = { aborted: ctx.config.MIA_SUSPECT_ABORTS_PER_HOUR, refused: ctx.config.MIA_SUSPECT_REFUSALS_PER_HOUR };
    let recorded = false;
    for (const { kind, last_hour } of counts) {
      if (limits[kind] === 0 || last_hour < limits[kind]) continue;
      const reason = kind === 'aborted' ? 'abort_rate' : 'refusal_rate';
      recorded = (await credits.recordSuspicion(ctx.db, minerId, reason, { last_hour, limit_per_hour: limits[kind] })) || recorded;
    }
    if (recorded) await suspendIfDue(ctx, minerId);
  } catch (error) {
    log.warn('recording miner events failed', { miner_id: minerId, ...errorFields(error) });
  }
}
