// Applying miners' results: successes in one statement, failures in another,
// then an explanation for every item that neither touched (fencing).
import type { AppContext } from '../context.ts';
import { jobs, type FailureCode, type ResultCheckRow } from '../store/jobs.ts';
import type { JobStatus } from '../store/rows.ts';
import { BadRequestError } from '../errors.ts';
import { completeAndCredit, recordMinerEvents } from '../credits/creditResults.ts';
import type { MinerJobEvent } from '../store/credits.ts';
import type { RefusalCode } from '../integrity/screenResults.ts';

export type ResultItem = {
  job_id: string;
  success: boolean;
  output?: string;
  tokens_generated?: number;
  prompt_tokens?: number;
  tool_calls?: object[] | null;
  error?: string;
  /** The miner's class of its failure (our vocabulary: what the business is told). */
  error_code?: FailureCode;
  lease_token: string;
};

export type Outcome = {
  job_id: string;
  outcome: 'accepted' | 'duplicate' | 'lease_lost' | 'forbidden' | 'not_found' | 'result_conflict' | 'refused';
  status: JobStatus | null;
  message: string;
  /** With `refused`: why (api/integrity/screenResults.ts). */
  code?: RefusalCode;
  duplicate?: boolean;
};

export function checkResultFields(item: ResultItem, where: string): void {
  if (!item.success) return;
  if (item.output === undefined) throw new BadRequestError(`${where}output is required when success is true`);
  if (item.tokens_generated === undefined) {
    throw new BadRequestError(`${where}tokens_generated is required when success is true`);
  }
}

/**
 * Failure reports: the jobs go back (or are dead-lettered) with the miner's words for the
 * operator and its code for the business. A context_exceeded report that carries
 * llama-server's prompt count first raises the job's need, in the same transaction, so
 * the next claim routes it to a miner whose context holds it (sql/job_need_raise.sql).
 */
async function failAttempts(ctx: AppContext, minerId: string, failures: readonly ResultItem[]) {
  const reports = failures.map((i) => ({
    job_id: i.job_id,
    lease_token: i.lease_token,
    error: i.error ?? 'the miner reported a failure without a reason',
    error_code: i.error_code ?? 'unspecified',
  }));
  const tooLong = failures
    .filter((i) => i.error_code === 'context_exceeded' && i.prompt_tokens !== undefined)
    .map((i) => ({ job_id: i.job_id, lease_token: i.lease_token, prompt_tokens: i.prompt_tokens! }));
  if (tooLong.length === 0) return jobs.failAttempt(ctx.db, minerId, reports, ctx.config.MIA_RETRY_BACKOFF_SECONDS);
  return ctx.db.transaction(async (tx) => {
    await jobs.raiseNeed(tx, minerId, tooLong);
    return jobs.failAttempt(tx, minerId, reports, ctx.config.MIA_RETRY_BACKOFF_SECONDS);
  });
}

function explain(item: ResultItem, row: ResultCheckRow | undefined, minerId: string): Outcome {
  const job_id = item.job_id;
  if (!row) return { job_id, outcome: 'not_found', status: null, message: 'no such job' };
  if (!row.attempted_by_caller) {
    return { job_id, outcome: 'forbidden', status: null, message: 'this job was never leased to the caller' };
  }
  const heldByCaller = row.miner_id === minerId;
  if (row.status === 'completed' && heldByCaller && item.lease_token === row.lease_token) {
    const same = item.success && row.output === (item.output ?? null) && row.tokens_generated === (item.tokens_generated ?? null);
    return same
      ? { job_id, outcome: 'duplicate', duplicate: true, status: row.status, message: 'result already stored; nothing changed' }
      : { job_id, outcome: 'result_conflict', status: row.status, message: 'the job was already completed with a different result' };
  }
  const why =
    row.status === 'cancelled' ? 'the job was cancelled'
    : row.status === 'running' && row.lease_expired && heldByCaller && item.lease_token === row.lease_token
      ? 'the lease expired before the result came; the job will be given back'
    : row.status === 'running' ? 'the job is leased to another miner (or another lease)'
    : row.status === 'queued' ? 'the lease expired and the job went back to the queue'
    : `the job is ${row.status}`;
  return { job_id, outcome: 'lease_lost', status: row.status, message: `lease lost: ${why}; nothing changed` };
}

export async function submitResults(ctx: AppContext, minerId: string, items: readonly ResultItem[]): Promise<Outcome[]> {
  const successes = items.filter((i) => i.success);
  const failures = items.filter((i) => !i.success);

  // Completion and credit in one transaction (api/credits/creditResults.ts).
  const credited = successes.length === 0 ? null : await completeAndCredit(ctx, minerId, successes.map((i) => ({
      job_id: i.job_id,
      lease_token: i.lease_token,
      output: i.output ?? '',
      tool_calls: i.tool_calls && i.tool_calls.length > 0 ? i.tool_calls : null,
      tokens_generated: i.tokens_generated ?? 0,
      prompt_tokens: i.prompt_tokens ?? null,
  })));
  // Job durations, from the completion's own answer (sql/job_complete.sql ran_s).
  for (const seconds of credited?.ranSeconds ?? []) ctx.metrics.observeJobDuration(seconds);
  const completed = new Set(credited?.completed ?? []);
  const cancelledCredited = new Set(credited?.cancelledCredited ?? []);
  const refused = new Map((credited?.refused ?? []).map((r) => [r.job_id, r] as const));
  const failed = new Map(failures.length === 0 ? [] : (await failAttempts(ctx, minerId, failures)).map((r) => [r.job_id, r.status] as const));

  ctx.metrics.failed('reported_failure', failed.size);
  for (const refusal of refused.values()) {
    ctx.metrics.failed(refusal.code === 'result_contact_forbidden' ? 'guardrail' : 'stream_contradicted');
  }
  const unexplained = items.filter((i) => !completed.has(i.job_id) && !failed.has(i.job_id) && !refused.has(i.job_id)).map((i) => i.job_id);
  const checks = new Map(
    unexplained.length === 0 ? [] : (await jobs.resultCheck(ctx.db, minerId, unexplained)).map((r) => [r.job_id, r] as const),
  );

  const outcomes = items.map((item): Outcome => {
    if (completed.has(item.job_id)) {
      completed.delete(item.job_id); // a repeated id within one batch counts once
      return { job_id: item.job_id, outcome: 'accepted', status: 'completed', message: 'result stored' };
    }
    const refusal = item.success ? refused.get(item.job_id) : undefined;
    if (refusal) {
      refused.delete(item.job_id);
      return { job_id: item.job_id, outcome: 'refused', code: refusal.code, status: refusal.status, message: refusal.message };
    }
    const failedStatus = failed.get(item.job_id);
    if (failedStatus) {
      failed.delete(item.job_id);
      return {
        job_id: item.job_id,
        outcome: 'accepted',
        status: failedStatus,
        message: failedStatus === 'failed' ? 'failure recorded; no attempts left, the job failed' : 'failure recorded; the job was requeued',
      };
    }
    const explained = explain(item, checks.get(item.job_id), minerId);
    if (cancelledCredited.has(item.job_id)) explained.message += ' (the work done before the cancellation is credited)';
    return explained;
  });
  await recordMinerEvents(ctx, minerId, outcomes.flatMap((o, i): MinerJobEvent[] =>
    items[i]!.success === false && o.outcome === 'accepted' ? [{ job_id: o.job_id, kind: 'aborted' as const }]
    // A cancellation is the business's doing, not the miner's: not counted.
    : (o.outcome === 'lease_lost' && o.status !== 'cancelled') || o.outcome === 'forbidden' || o.outcome === 'result_conflict'
      ? [{ job_id: o.job_id, kind: 'refused' as const }]
    : []));
  return outcomes;
}
