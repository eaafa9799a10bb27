// Reporting results: a finished job's answer (or why there is none) goes to the backend,
// retried through network errors and 5xx until a deadline, then counted and logged.
// It runs beside the next job's generation, never in its way (see jobLoop.ts).
import { Backoff, sleep } from '../lib/backoff.ts';
import type { BackendClient, ClaimedJob, JobResult } from '../backend/backendClient.ts';
import { BackendError } from '../backend/backendClient.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage } from '../lib/log.ts';
import type { JobStats } from './stats.ts';
import { tokensPerSecond } from './stats.ts';
import type { Generation } from './generate.ts';

export interface ReportResultOptions {
  backend: Pick<BackendClient, 'submitResult'>;
  logger: Logger;
  stats: JobStats;
  minerId: string;
  /** How long result submission is retried through network errors and 5xx. */
  submitDeadlineMs?: number;
  /** The drain deadline: stop retrying (the lease returns the job). */
  abandon: AbortSignal;
}

type Outcome = 'accepted' | 'lease_lost' | 'rejected' | 'unsent';

export async function reportResult(options: ReportResultOptions, job: ClaimedJob, generation: Generation): Promise<void> {
  const { logger, stats } = options;
  const { completion, error, failure, seconds } = generation;
  const result: JobResult = completion
    ? {
        job_id: job.job_id,
        session_id: job.session_id,
        success: true,
        output: completion.content,
        tokens_generated: completion.completionTokens,
        prompt_tokens: completion.promptTokens,
        tool_calls: completion.toolCalls,
        lease_token: job.lease_token,
      }
    : {
        job_id: job.job_id,
        session_id: job.session_id,
        success: false,
        error: (error ?? 'generation failed').slice(0, 4000),
        error_code: failure?.code,
        ...(failure?.promptTokens !== undefined ? { prompt_tokens: failure.promptTokens } : {}),
        lease_token: job.lease_token,
      };
  const outcome = await submit(options, result);
  stats.record({
    jobId: job.job_id,
    success: result.success && outcome === 'accepted',
    promptTokens: completion?.promptTokens ?? 0,
    completionTokens: completion?.completionTokens ?? 0,
    seconds,
  });
  if (!completion) {
    logger.warn(`job ${job.job_id} failed after ${seconds.toFixed(2)} s: ${error}`, { attempt: job.attempt, result: outcome });
    return;
  }
  const tps = tokensPerSecond(completion.completionTokens, seconds);
  logger.info(
    `job ${job.job_id} ${outcome === 'accepted' ? 'done' : outcome}: ${completion.promptTokens} prompt + ` +
      `${completion.completionTokens} completion tokens in ${seconds.toFixed(2)} s, ${tps.toFixed(1)} tok/s`,
    { attempt: job.attempt, finish: completion.finishReason, tool_calls: completion.toolCalls?.length },
  );
}

/** Posts a result, retrying network errors and 5xx with backoff; never throws. */
async function submit(options: ReportResultOptions, result: JobResult): Promise<Outcome> {
  const { backend, logger, minerId, abandon } = options;
  const deadline = Date.now() + (options.submitDeadlineMs ?? 10 * 60_000);
  const backoff = new Backoff({ initialMs: 250, maxMs: 10_000 });
  for (;;) {
    try {
      const reply = await backend.submitResult(minerId, result);
      return reply.outcome === 'accepted' || reply.outcome === 'duplicate' ? 'accepted' : 'rejected';
    } catch (error) {
      if (error instanceof BackendError && error.status === 409) {
        // The lease moved on (expired and requeued, cancelled, reassigned): the job
        // belongs to someone else now, and this result must not count.
        logger.warn(`job ${result.job_id} dropped: ${error.code ?? 'conflict'}`, { error: error.message });
        return 'lease_lost';
      }
      if (!(error instanceof BackendError) || !error.retryable) {
        logger.error(`job ${result.job_id} result refused`, { error: errorMessage(error) });
        return 'rejected';
      }
      if (Date.now() > deadline || abandon.aborted) {
        logger.error(`job ${result.job_id} result not delivered; its lease returns it to the queue`, { error: error.message });
        return 'unsent';
      }
      const delay = backoff.next();
      logger.warn(`job ${result.job_id} result not delivered; retrying`, { error: error.message, in_s: (delay / 1000).toFixed(1) });
      await sleep(delay, abandon);
    }
  }
}
