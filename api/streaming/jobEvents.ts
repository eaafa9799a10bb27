// The events of one job as a stream reader sees them, from a position on:
// `queued`, `started` (attempt), `delta` (text), `tool_call` (an OpenAI tool-call
// delta), `restart` (a new attempt replaces the text shown so far), then `done`
// (the body a non-streaming POST /chat returns) or `error` (failed, cancelled,
// shutting down). Every event reads Postgres, so the reader may be on any API
// process; the StreamHub only says when to read again.
//
// Positions are `<attempt>:<offset>[:<tool deltas>]`, the SSE id of each delta:
// the attempt whose text is shown, how much of it (UTF-16 code units) and how
// many of its tool-call deltas. A reader resumed from one gets exactly the rest.
import type { AppContext } from '../context.ts';
import { jobs } from '../store/jobs.ts';
import { jobDeltas } from '../store/jobDeltas.ts';
import type { JobRow } from '../store/rows.ts';
import { isFinal, jobOutcome } from '../http/jobOutcome.ts';
import { BadRequestError } from '../errors.ts';

export type Position = { attempt: number; offset: number; tools: number };

export type StreamEvent =
  | { event: 'queued'; data: { job_id: string; session_id: string; status: 'queued' } }
  | { event: 'started'; data: { job_id: string; attempt: number } }
  | { event: 'delta'; id: string; data: { text: string } }
  | { event: 'tool_call'; id: string; data: Record<string, unknown> }
  | { event: 'restart'; data: { job_id: string; attempt: number } }
  | { event: 'done'; data: ReturnType<typeof jobOutcome> }
  | { event: 'error'; data: { error: { code: string; message: string } } };

export function positionId(p: Position): string {
  return p.tools > 0 ? `${p.attempt}:${p.offset}:${p.tools}` : `${p.attempt}:${p.offset}`;
}

/** A Last-Event-ID as we issue them; anything else is the client's mistake. */
export function parsePosition(value: string | undefined): Position | null {
  if (value === undefined || value === '') return null;
  const match = /^(\d{1,9}):(\d{1,9})(?::(\d{1,9}))?$/.exec(value);
  if (!match) throw new BadRequestError('Last-Event-ID must be an id this stream sent (<attempt>:<offset>[:<tool deltas>])');
  return { attempt: Number(match[1]), offset: Number(match[2]), tools: Number(match[3] ?? 0) };
}

function finalEvent(job: JobRow): StreamEvent {
  if (job.status === 'completed') return { event: 'done', data: jobOutcome(job) };
  if (job.status === 'cancelled') {
    return { event: 'error', data: { error: { code: 'cancelled', message: `the job was cancelled: ${job.error ?? 'no reason given'}` } } };
  }
  return { event: 'error', data: { error: { code: 'job_failed', message: `the job failed after ${job.attempts} attempts: ${job.error ?? 'no reason given'}` } } };
}

export async function* jobEvents(
  ctx: AppContext,
  jobId: string,
  from: Position | null,
  signal: AbortSignal,
  /** The caller announced the job already (POST /chat sends `queued` itself). */
  announced = false,
): AsyncGenerator<StreamEvent> {
  // Subscribe before the first read, so a wake between the two is kept.
  const sub = ctx.streams.hub.subscribe(jobId);
  try {
    // Asks for the NOTIFY at the finish, as a parked POST /chat does.
    const first = await jobs.watch(ctx.db, jobId);
    if (!first) {
      yield { event: 'error', data: { error: { code: 'not_found', message: 'the job no longer exists' } } };
      return;
    }
    let shown = from ? { ...from } : { attempt: 0, offset: 0, tools: 0 };
    let nextSeq = 0;
    if (!from && !announced && first.status === 'queued') {
      yield { event: 'queued', data: { job_id: jobId, session_id: first.session_id, status: 'queued' } };
    }
    for (;;) {
      if (signal.aborted) return;
      if (ctx.draining) {
        yield { event: 'error', data: { error: { code: 'shutting_down', message: 'this API process is shutting down; reconnect to GET /job/{job_id}/stream with Last-Event-ID' } } };
        return;
      }
      const state = await jobDeltas.read(ctx.db, jobId, nextSeq);
      if (!state) {
        yield { event: 'error', data: { error: { code: 'not_found', message: 'the job no longer exists' } } };
        return;
      }
      const final = isFinal({ status: state.status } as JobRow);
      const current = state.attempts;
      const attemptVisible = current > 0 && (state.status === 'running' || state.deltas.length > 0 || state.status === 'completed');
      if (attemptVisible && current !== shown.attempt) {
        // Text of an earlier attempt may be on the client's screen: say it is void.
        if (shown.attempt > 0) yield { event: 'restart', data: { job_id: jobId, attempt: current } };
        else yield { event: 'started', data: { job_id: jobId, attempt: current } };
        const stale = nextSeq > 0;
        shown = { attempt: current, offset: 0, tools: 0 };
        nextSeq = 0;
        if (stale && !final) continue;
      }

      if (!final) {
        for (const delta of state.deltas) {
          if (delta.seq !== nextSeq) break; // a batch still on its way (or never coming: `done` carries the text)
          nextSeq += 1;
          const end = delta.text_start + delta.content.length;
          if (delta.text_start > shown.offset) break;
          if (end > shown.offset) {
            const text = delta.content.slice(shown.offset - delta.text_start);
            shown.offset = end;
            yield { event: 'delta', id: positionId(shown), data: { text } };
          }
          for (const [i, call] of (delta.tool_calls ?? []).entries()) {
            if (delta.tool_start + i < shown.tools) continue;
            shown.tools = delta.tool_start + i + 1;
            yield { event: 'tool_call', id: positionId(shown), data: call };
          }
        }
        await sub.changed(signal);
        continue;
      }

      const job = await jobs.get(ctx.db, jobId);
      if (!job) continue;
      if (job.status === 'completed') {
        // The stored answer is the authority: whatever part of it the deltas did not carry comes now.
        const output = job.output ?? '';
        if (shown.attempt === job.attempts && shown.offset < output.length) {
          const text = output.slice(shown.offset);
          shown.offset = output.length;
          yield { event: 'delta', id: positionId(shown), data: { text } };
        }
      }
      yield finalEvent(job);
      return;
    }
  } finally {
    sub.close();
  }
}
