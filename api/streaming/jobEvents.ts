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
//
// Integrity (README "Miners are strangers", "Contact guardrail"): a reader keeps
// the text of the attempt it shows and reads only the batches after it. When
// that attempt is voided (its result refused or its miner failed: the job back
// in the queue, or a newer attempt) it sends `restart` at once, before any other
// attempt's text; a `done` never follows text that differs from the stored
// answer without a `restart` first. The contact guardrail holds back text that
// may still become a URL, address or phone number (api/integrity/streamGuard.ts).
//
// Personal data (README "Customers' personal data"): miners write placeholders
// ([EMAIL_1]); a reader shows each piece with the customer's values back in
// their place. Positions count the miner's text, and no piece ends inside a
// placeholder (api/privacy/restore.ts restorableEnd), so each piece restores on
// its own and a placeholder split across delta batches is shown whole.
import type { AppContext } from '../context.ts';
import { jobs } from '../store/jobs.ts';
import { jobDeltas, type StreamReadRow } from '../store/jobDeltas.ts';
import type { StoredBatch } from './streamHub.ts';
import type { JobRow } from '../store/rows.ts';
import { isFinal, jobOutcome } from '../http/jobOutcome.ts';
import { BadRequestError } from '../errors.ts';
import { jobIntegrity, type GuardrailRow } from '../store/jobIntegrity.ts';
import { ContactPolicy } from '../integrity/contacts.ts';
import { givenTexts } from '../integrity/screenResults.ts';
import { StreamGuard } from '../integrity/streamGuard.ts';
import { failureReason } from '../jobs/failureReason.ts';
import { piiPlaceholders } from '../store/piiPlaceholders.ts';
import { restorableEnd, restorer } from '../privacy/restore.ts';
import { ToolDeltaRestorer } from '../privacy/toolDeltas.ts';

export type Position = { attempt: number; offset: number; tools: number };

/** Why the text shown was voided: its miner failed, its result was refused, or the stored answer differs. */
export type RestartReason = 'attempt_failed' | 'result_refused' | 'result_differs';

export type StreamEvent =
  | { event: 'queued'; data: { job_id: string; session_id: string; status: 'queued' } }
  | { event: 'started'; data: { job_id: string; attempt: number } }
  | { event: 'delta'; id: string; data: { text: string } }
  | { event: 'tool_call'; id: string; data: Record<string, unknown> }
  | { event: 'restart'; data: { job_id: string; attempt: number; reason?: RestartReason } }
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
    return { event: 'error', data: { error: { code: 'cancelled', message: `the job was cancelled: ${failureReason(job) ?? 'no reason given'}` } } };
  }
  return { event: 'error', data: { error: { code: 'job_failed', message: `the job failed after ${job.attempts} attempts: ${failureReason(job) ?? 'no reason given'}` } } };
}

function guardFor(ctx: AppContext, row: GuardrailRow | null, redactedValues: Iterable<string>): ContactPolicy | null {
  if (!row?.guardrail) return null;
  return new ContactPolicy(givenTexts(row.messages, row.context, redactedValues), row.allowlist, ctx.config.MIA_GUARDRAIL_PHONE_REGIONS);
}

/**
 * What the submit that just created a job knows of it (api/jobs/createChatJob.ts): its
 * reader starts from this, without the three reads below, which would otherwise run
 * beside the claim of the job on the way to its first token. The job asked for the
 * NOTIFY at its finish when it was created (a waiting submitter's job).
 */
export type StreamStart = { sessionId: string; piiValues: Map<string, string>; guardrail: GuardrailRow };

/**
 * The job as the batches this process stored show it, when they continue exactly what
 * the reader has (their appends ran while the attempt held its lease: running); else
 * null, and the reader reads the job.
 */
function heldState(held: StoredBatch[] | null, shownAttempt: number, nextSeq: number): StreamReadRow | null {
  const last = held?.at(-1);
  if (!held || !last) return null;
  const from = last.attempt === shownAttempt ? nextSeq : 0;
  const deltas = held.filter((b) => b.attempt === last.attempt && b.seq >= from);
  if (deltas.length === 0 || deltas.some((b, i) => b.seq !== from + i)) return null;
  return { status: 'running', attempts: last.attempt, error: null, deltas: deltas.map(({ attempt: _attempt, ...delta }) => delta) };
}

export async function* jobEvents(
  ctx: AppContext,
  jobId: string,
  from: Position | null,
  signal: AbortSignal,
  /** The caller announced the job already (POST /chat sends `queued` itself). */
  announced = false,
  start?: StreamStart,
): AsyncGenerator<StreamEvent> {
  // Subscribe before the first read, so a wake between the two is kept.
  const sub = ctx.streams.hub.subscribe(jobId);
  try {
    let first: Pick<JobRow, 'status' | 'session_id'>;
    let redacted: Map<string, string>;
    let policy: ContactPolicy | null;
    if (start) {
      first = { status: 'queued', session_id: start.sessionId };
      redacted = start.piiValues;
      policy = guardFor(ctx, start.guardrail, redacted.values());
    } else {
      // Asks for the NOTIFY at the finish, as a parked POST /chat does. The guardrail's
      // facts are read beside it (two round trips at once, not one after the other: this is
      // on the way to the first token); the placeholders only for a job redaction was on for.
      const guarding = jobIntegrity.guardrail(ctx.db, jobId);
      guarding.catch(() => undefined); // awaited below, unless the job is gone
      const watched = await jobs.watch(ctx.db, jobId);
      if (!watched) {
        yield { event: 'error', data: { error: { code: 'not_found', message: 'the job no longer exists' } } };
        return;
      }
      first = watched;
      redacted = watched.pii_redacted === null
        ? new Map<string, string>()
        : ((await piiPlaceholders.forJobs(ctx.db, [jobId])).get(jobId) ?? new Map<string, string>());
      policy = guardFor(ctx, await guarding, redacted.values());
    }
    // The job as its creator left it (queued, nothing streamed), for the first look.
    let opening: StreamReadRow | null = start ? { status: 'queued', attempts: 0, error: null, deltas: [] } : null;
    const restore = restorer(redacted);
    let shown = from ? { ...from } : { attempt: 0, offset: 0, tools: 0 };
    // The attempt's text as read so far (batch 0 to nextSeq - 1), and how much of it may be shown.
    let text = '';
    let nextSeq = 0;
    let guard = new StreamGuard(policy);
    let tools = new ToolDeltaRestorer(restore, redacted.size > 0);
    const restartAs = (attempt: number) => {
      shown = { attempt, offset: 0, tools: 0 };
      text = '';
      nextSeq = 0;
      guard = new StreamGuard(policy);
      tools = new ToolDeltaRestorer(restore, redacted.size > 0);
    };
    if (!from && !announced && first.status === 'queued') {
      yield { event: 'queued', data: { job_id: jobId, session_id: first.session_id, status: 'queued' } };
    }
    for (;;) {
      if (signal.aborted) return;
      if (ctx.draining) {
        yield { event: 'error', data: { error: { code: 'shutting_down', message: 'this API process is shutting down; reconnect to GET /job/{job_id}/stream with Last-Event-ID' } } };
        return;
      }
      // Batches this process stored since the last look are shown as they are; anything
      // else (another process's NOTIFY, a finish, the fallback check) reads the job.
      const held = sub.take();
      const state = opening ?? heldState(held, shown.attempt, nextSeq) ?? (await jobDeltas.read(ctx.db, jobId, nextSeq));
      opening = null;
      if (!state) {
        yield { event: 'error', data: { error: { code: 'not_found', message: 'the job no longer exists' } } };
        return;
      }
      const final = isFinal({ status: state.status } as JobRow);
      const current = state.attempts;

      if (state.status === 'queued' && current > 0 && current === shown.attempt && (shown.offset > 0 || shown.tools > 0)) {
        // The attempt on the client's screen was voided and the job waits for
        // another: take its text back now, not when the next attempt starts.
        const reason: RestartReason = state.error?.includes(' refused: ') ? 'result_refused' : 'attempt_failed';
        yield { event: 'restart', data: { job_id: jobId, attempt: current + 1, reason } };
        restartAs(current + 1);
        continue;
      }
      const attemptVisible = current > 0 && (state.status === 'running' || state.status === 'completed');
      if (attemptVisible && current !== shown.attempt) {
        // Text of an earlier attempt may be on the client's screen: say it is void.
        if (shown.attempt > 0) yield { event: 'restart', data: { job_id: jobId, attempt: current } };
        else yield { event: 'started', data: { job_id: jobId, attempt: current } };
        const stale = nextSeq > 0;
        restartAs(current);
        if (stale && !final) continue;
      }

      if (!final) {
        if (state.status === 'running' && current === shown.attempt) {
          for (const delta of state.deltas) {
            // Batches are contiguous (sql/job_delta_append.sql); one that is not
            // (stored before that rule) ends what this attempt shows: `done` carries the text.
            if (delta.seq !== nextSeq || delta.text_start !== text.length) break;
            nextSeq += 1;
            text += delta.content;
            const end = restorableEnd(text, guard.visibleEnd(text));
            if (end > shown.offset) {
              const piece = text.slice(shown.offset, end);
              shown.offset = end;
              yield { event: 'delta', id: positionId(shown), data: { text: restore.text(piece) } };
            }
            for (const [i, call] of (delta.tool_calls ?? []).entries()) {
              if (delta.tool_start + i < shown.tools) continue;
              for (const piece of tools.push(call, delta.tool_start + i)) {
                shown.tools = piece.end;
                yield { event: 'tool_call', id: positionId(shown), data: piece.delta };
              }
            }
          }
        }
        await sub.changed(signal);
        continue;
      }

      const job = await jobs.get(ctx.db, jobId);
      if (!job) continue;
      if (job.status === 'completed') {
        // The stored answer is the authority: whatever part of it the deltas did not carry comes now.
        // Compared and cut in the miner's text, which the positions count.
        const output = job.miner_output ?? job.output ?? '';
        if (shown.attempt === job.attempts) {
          // What this reader showed of the attempt must begin the answer (a resumed
          // reader that never read the batches cannot tell, and the result was screened).
          const held = text.length >= shown.offset ? text.slice(0, shown.offset) : null;
          if (held !== null && !output.startsWith(held)) {
            yield { event: 'restart', data: { job_id: jobId, attempt: job.attempts, reason: 'result_differs' } };
            restartAs(job.attempts);
          }
          if (shown.offset < output.length) {
            const rest = output.slice(shown.offset);
            shown.offset = output.length;
            yield { event: 'delta', id: positionId(shown), data: { text: restore.text(rest) } };
          }
          // A tool call held back for a placeholder that never completed: shown as it is.
          for (const piece of tools.flush()) {
            shown.tools = piece.end;
            yield { event: 'tool_call', id: positionId(shown), data: piece.delta };
          }
        }
      }
      yield finalEvent(job);
      return;
    }
  } finally {
    sub.close();
  }
}
