// Results are screened before they are stored (README "Miners are strangers",
// "Contact guardrail"), at the start of the transaction that completes them
// (api/credits/creditResults.ts):
//
// 1. What was streamed is what is stored. Customers may already have been shown
//    an attempt's deltas; a result that does not begin with them (text, and the
//    tool-call deltas folded by index) contradicts what they saw. Deltas are a
//    promise, not a draft: an honest miner's result is always their
//    continuation (miner/llama/llamaClient.ts assembles it from the same pieces).
// 2. The contact guardrail: an answer showing a URL, e-mail address or phone
//    number its business did not give is not delivered.
//
// A refused result fails the attempt (the job goes back to the queue, for
// another miner: sql/job_claim.sql skips miners that tried it), leaves a
// suspicion and, when text was streamed, an audit record of it
// (mia.job_retractions). Stream readers see the attempt voided and retract
// (api/streaming/jobEvents.ts).
import type { CommonQueryMethods } from 'slonik';
import type { AppContext } from '../context.ts';
import type { SuccessResult } from '../store/jobs.ts';
import { jobs } from '../store/jobs.ts';
import { jobIntegrity, type StreamLockRow } from '../store/jobIntegrity.ts';
import { ContactPolicy, type Contact } from './contacts.ts';
import { piiPlaceholders } from '../store/piiPlaceholders.ts';

export type RefusalCode = 'result_contradicts_stream' | 'result_contact_forbidden';
export type RefusedResult = { job_id: string; code: RefusalCode; status: 'queued' | 'failed'; message: string };
/**
 * placeholders: per locked job, placeholder → value (the customer's data its messages
 * received), read once here and reused to restore the answers (api/privacy/restoreResults.ts).
 */
export type Screened = {
  passed: SuccessResult[];
  refused: RefusedResult[];
  suspicions: number;
  placeholders: Map<string, Map<string, string>>;
  /**
   * The locked jobs whose results passed, with what the plausibility checks need about them
   * and whether each is a canary (api/trust/canaries.ts).
   */
  locked: Map<string, StreamLockRow>;
};

type Verdict = { code: RefusalCode; reason: 'stream_contradicted' | 'contact_guardrail'; message: string; figures: Record<string, unknown> };

/**
 * Every string in a job's messages (contents, tool-call arguments): what the business and its customer gave.
 * `redactedValues`: the values behind the placeholders those messages received (api/privacy/), given too.
 */
export function givenTexts(messages: unknown, context: string | null, redactedValues: Iterable<string> = []): string[] {
  const out: string[] = context ? [context, ...redactedValues] : [...redactedValues];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') out.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(messages);
  return out;
}

type FoldedCall = { name: string; arguments: string };

function foldToolDeltas(deltas: readonly Record<string, unknown>[]): FoldedCall[] {
  const calls: FoldedCall[] = [];
  for (const delta of deltas) {
    const index = typeof delta.index === 'number' ? delta.index : calls.length;
    const call = (calls[index] ??= { name: '', arguments: '' });
    const fn = delta.function as { name?: unknown; arguments?: unknown } | undefined;
    if (typeof fn?.name === 'string') call.name += fn.name;
    if (typeof fn?.arguments === 'string') call.arguments += fn.arguments;
  }
  return calls;
}

function toolsContradict(streamed: readonly Record<string, unknown>[], final: unknown): boolean {
  if (streamed.length === 0) return false;
  const finalCalls = Array.isArray(final) ? (final as { function?: { name?: unknown; arguments?: unknown } }[]) : [];
  return foldToolDeltas(streamed).some((call, i) => {
    if (call === undefined) return false;
    const name = typeof finalCalls[i]?.function?.name === 'string' ? finalCalls[i].function.name : '';
    const args = typeof finalCalls[i]?.function?.arguments === 'string' ? finalCalls[i].function.arguments : '';
    return !name.startsWith(call.name) || !args.startsWith(call.arguments);
  });
}

function judge(ctx: AppContext, row: StreamLockRow, result: SuccessResult, redactedValues: Iterable<string>): Verdict | null {
  if (!result.output.startsWith(row.streamed) || toolsContradict(row.streamed_tools, result.tool_calls)) {
    let at = 0;
    while (at < row.streamed.length && row.streamed[at] === result.output[at]) at += 1;
    return {
      code: 'result_contradicts_stream',
      reason: 'stream_contradicted',
      message: `the result does not continue what this attempt streamed to customers (they differ at character ${at})`,
      figures: { streamed_chars: row.streamed.length, output_chars: result.output.length, differs_at: at },
    };
  }
  if (!row.guardrail) return null;
  const policy = new ContactPolicy(givenTexts(row.messages, row.context, redactedValues), row.allowlist, ctx.config.MIA_GUARDRAIL_PHONE_REGIONS);
  const forbidden: Contact | null = policy.firstForbidden(result.output);
  if (!forbidden) return null;
  return {
    code: 'result_contact_forbidden',
    reason: 'contact_guardrail',
    message: `the result shows a ${forbidden.kind === 'url' ? 'URL' : forbidden.kind === 'email' ? 'e-mail address' : 'phone number'} the business did not give (contact guardrail)`,
    figures: { kind: forbidden.kind, contact: forbidden.raw.slice(0, 200), at: forbidden.index },
  };
}

/**
 * Call first in the transaction that completes `results`: locks the jobs this
 * miner holds under those leases (no delta can be appended until the commit),
 * fails the attempts whose result is refused and returns the others.
 */
export async function screenResults(
  ctx: AppContext,
  tx: CommonQueryMethods,
  minerId: string,
  results: readonly SuccessResult[],
): Promise<Screened> {
  const rows = new Map((await jobIntegrity.streamLock(tx, minerId, results)).map((r) => [r.job_id, r] as const));
  // Only jobs whose messages received placeholders have values to read: none, no read (the common case).
  const redacted = await piiPlaceholders.forJobs(tx, [...rows.values()].filter((r) => r.has_placeholders).map((r) => r.job_id));
  const passed: SuccessResult[] = [];
  const refused: RefusedResult[] = [];
  let suspicions = 0;
  for (const result of results) {
    const row = rows.get(result.job_id);
    // Not this lease's job (or a repeat within the batch): job_complete.sql's fencing explains it.
    const verdict = row ? judge(ctx, row, result, redacted.get(row.job_id)?.values() ?? []) : null;
    if (!row || !verdict) {
      passed.push(result);
      continue;
    }
    rows.delete(result.job_id);
    const [failed] = await jobs.failAttempt(tx, minerId, [{ job_id: result.job_id, lease_token: result.lease_token, error: `attempt ${row.attempt} refused: ${verdict.message}` }], ctx.config.MIA_RETRY_BACKOFF_SECONDS);
    const recorded = await jobIntegrity.recordRefusal(tx, {
      miner_id: minerId,
      job_id: row.job_id,
      attempt: row.attempt,
      business_id: row.business_id,
      reason: verdict.reason,
      figures: JSON.stringify(verdict.figures),
      streamed: row.streamed,
    });
    suspicions += recorded.suspicions;
    const status = failed?.status === 'failed' ? 'failed' : 'queued';
    refused.push({
      job_id: result.job_id,
      code: verdict.code,
      status,
      message: `${verdict.message}; the attempt failed and the job ${status === 'failed' ? 'has no attempts left' : 'went back to the queue'}`,
    });
  }
  return { passed, refused, suspicions, placeholders: redacted, locked: rows };
}
