// Tells the other API processes that jobs got new deltas, coalesced: at most
// one NOTIFY per process per window (MIA_STREAM_NOTIFY_MS, default 25 ms),
// naming every job touched in it. One NOTIFY per delta insert would put every
// insert's commit behind Postgres' cluster-wide notify lock (the finding of
// migration 0005); this way a process sends at most 1000/window of them a
// second, however many streams it relays. The first delta after a quiet
// window goes out at once (leading edge), so a stream's first token is not
// held back. Readers on this process are woken directly, without a round trip.
import { randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { jobDeltas } from '../store/jobDeltas.ts';
import { errorFields, log } from '../log.ts';
import type { StoredBatch, StreamHub } from './streamHub.ts';

/** Postgres refuses payloads of 8000 bytes or more. */
const maxPayloadBytes = 7900;

export class DeltaNotifier {
  /** Marks our own notifications, which the listener then skips (our readers were woken already). */
  readonly origin = randomUUID().slice(0, 8);
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private sending: Promise<void> | undefined;
  /** NOTIFY statements sent (for bench/). */
  sent = 0;

  constructor(
    private readonly db: DatabasePool,
    private readonly hub: StreamHub,
    private readonly windowMs: number,
  ) {}

  /** `batch`: what was stored, when readers here may take it as it is (StreamHub.wake). */
  touched(jobId: string, batch?: StoredBatch): void {
    this.hub.wake(jobId, batch);
    this.pending.add(jobId);
    if (this.timer || this.sending) return;
    const wait = this.lastSent + this.windowMs - performance.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** A notification from any process (ours included): wake our readers of those jobs. */
  received(payload: string): void {
    const [origin, ids] = payload.split('|');
    if (origin === this.origin || !ids) return;
    for (const id of ids.split(',')) this.hub.wake(id);
  }

  private flush(): void {
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending.clear();
    this.lastSent = performance.now();
    const payloads: string[] = [];
    let current: string[] = [];
    for (const id of ids) {
      if ((current.length + 1) * 37 + this.origin.length + 1 > maxPayloadBytes) {
        payloads.push(current.join(','));
        current = [];
      }
      current.push(id);
    }
    payloads.push(current.join(','));
    this.sending = (async () => {
      for (const ids of payloads) {
        try {
          await jobDeltas.notify(this.db, `${this.origin}|${ids}`);
          this.sent += 1;
        } catch (error) {
          // Readers elsewhere still catch up on their fallback tick.
          log.warn('delta notify failed', errorFields(error));
        }
      }
    })().finally(() => {
      this.sending = undefined;
      if (this.pending.size > 0 && !this.timer) {
        const wait = Math.max(0, this.lastSent + this.windowMs - performance.now());
        this.timer = setTimeout(() => this.flush(), wait);
      }
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}
