// Relays one job's events to an SSE response in our own framing (POST /chat
// with stream:true, GET /job/{job_id}/stream): `event: <name>`, JSON data, and
// an `id` on every delta so a reconnecting client (EventSource does it by
// itself) resumes with Last-Event-ID on any API process.
import type { Response } from 'express';
import type { AppContext } from '../context.ts';
import { defineQuery } from '../db/defineQuery.ts';
import { IdRow } from '../store/rows.ts';
import { jobEvents, type Position, type StreamStart } from './jobEvents.ts';
import { openSse, type SseStream } from './sse.ts';
import { errorFields, log } from '../log.ts';

const cancelQueuedQuery = defineQuery<{ id: string; reason: string }, typeof IdRow>('job_cancel_queued', IdRow);

/** True when the job was still queued and is now cancelled (counted in mia_job_failures_total). */
export async function cancelQueued(ctx: Pick<AppContext, 'db' | 'metrics'>, jobId: string, reason: string): Promise<boolean> {
  const cancelled = (await ctx.db.maybeOne(cancelQueuedQuery({ id: jobId, reason }))) !== null;
  if (cancelled) ctx.metrics.failed('cancelled');
  return cancelled;
}

/** A streamed chat whose client hung up before any miner took it: nobody will read the answer. */
export async function cancelAbandoned(ctx: Pick<AppContext, 'db' | 'metrics'>, jobId: string): Promise<void> {
  await cancelQueued(ctx, jobId, 'the client disconnected before a miner took the job').catch((error: unknown) =>
    log.warn('cancel of an abandoned job failed', { job_id: jobId, ...errorFields(error) }),
  );
}

export type RelayOptions = {
  from: Position | null;
  /** This request created the job and is its only waiter: a hang-up before a miner took it cancels it. */
  cancelIfAbandoned: boolean;
  /** Events sent before the job's own (POST /chat announces the new job). */
  prelude?: (sse: SseStream) => void;
  /** The submit that created the job says how it starts (jobEvents' StreamStart). */
  start?: StreamStart;
};

export async function relayJob(ctx: AppContext, res: Response, jobId: string, options: RelayOptions): Promise<void> {
  const sse = openSse(res, ctx.config.MIA_STREAM_MAX_SECONDS * 1000, { 'X-Mia-Job-Id': jobId });
  options.prelude?.(sse);
  let finished = false;
  try {
    for await (const item of jobEvents(ctx, jobId, options.from, sse.signal, options.prelude !== undefined, options.start)) {
      sse.send(item.event, item.data, 'id' in item ? item.id : undefined);
      if (item.event === 'done' || item.event === 'error') finished = true;
    }
    if (!finished && sse.timedOut) {
      sse.send('error', { error: { code: 'timeout', message: `the stream was open ${ctx.config.MIA_STREAM_MAX_SECONDS} s; reconnect to GET /job/${jobId}/stream with Last-Event-ID` } });
    }
  } catch (error) {
    log.warn('stream relay failed', { job_id: jobId, ...errorFields(error) });
    sse.send('error', { error: { code: 'database_unavailable', message: 'the stream broke off; reconnect with Last-Event-ID' } });
  } finally {
    const hungUp = !finished && !sse.timedOut;
    sse.end();
    if (hungUp && options.cancelIfAbandoned) {
      await cancelAbandoned(ctx, jobId);
    }
  }
}
