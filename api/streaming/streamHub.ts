// Where stream readers of this API process wait for news of their job. A wake
// comes from a delta stored by this process (at once), from another process
// (NOTIFY mia_job_delta, coalesced by its DeltaNotifier), from a job finishing
// (NOTIFY mia_job_finished, which the reader asked for via job_watch), from the
// fallback check when the job's state moved (api/streaming/streamFallback.ts: one
// statement per tick for the whole process), or from the listener's resync
// (everyone re-reads).
//
// A wake for a text batch this process stored carries the batch, so a reader here
// shows it without reading it back (one round trip less on the way to every token);
// any other wake means "read". A subscription holds no timer and no connection: a
// reader that is gone unsubscribes and leaves nothing behind (`subscribers` shows it).
import type { DeltaRow } from '../store/jobDeltas.ts';

/** A batch of one attempt, as its append stored it (text only: see wake()). */
export type StoredBatch = DeltaRow & { attempt: number };

export type Subscription = {
  /** Resolves at the next wake after the last `changed()` (at once if one came meanwhile), or when `signal` aborts. */
  changed: (signal: AbortSignal) => Promise<void>;
  /**
   * What the wakes since the last call brought: the batches stored here, in order, or
   * null when something else happened (or nothing was taken yet): read the job then.
   */
  take: () => StoredBatch[] | null;
  close: () => void;
};

/** Batches held for a reader that does not take them; beyond this it reads instead. */
const maxHeldBatches = 64;

export class StreamHub {
  private readonly byJob = new Map<string, Set<Waker>>();

  get subscribers(): number {
    let n = 0;
    for (const set of this.byJob.values()) n += set.size;
    return n;
  }

  get jobs(): number {
    return this.byJob.size;
  }

  subscribe(jobId: string): Subscription {
    const waker = new Waker();
    const set = this.byJob.get(jobId) ?? new Set();
    set.add(waker);
    this.byJob.set(jobId, set);
    return {
      changed: (signal) => waker.next(signal),
      take: () => waker.take(),
      close: () => {
        waker.wake();
        set.delete(waker);
        if (set.size === 0 && this.byJob.get(jobId) === set) this.byJob.delete(jobId);
      },
    };
  }

  /**
   * `batch`: a text batch this process just stored for the job. Batches with tool-call
   * deltas are not passed (their JSON comes back from jsonb in its own key order, and a
   * reader should show one form only): those readers read.
   */
  wake(jobId: string, batch?: StoredBatch): void {
    const set = this.byJob.get(jobId);
    if (set) for (const waker of set) waker.wake(batch);
  }

  wakeAll(): void {
    for (const set of this.byJob.values()) for (const waker of set) waker.wake();
  }

  /** The jobs someone here waits on. */
  jobIds(): string[] {
    return [...this.byJob.keys()];
  }
}

/** A level-triggered flag: a wake with nobody waiting is kept for the next `next()`. */
class Waker {
  private pending = false;
  private resolve: (() => void) | undefined;
  /** Batches since the last take(); `stale`: a wake without one came, so they do not tell all. */
  private batches: StoredBatch[] = [];
  private stale = true;

  take(): StoredBatch[] | null {
    const batches = this.stale ? null : this.batches;
    this.stale = false;
    this.batches = [];
    return batches;
  }

  wake(batch?: StoredBatch): void {
    if (batch && !this.stale && this.batches.length < maxHeldBatches) this.batches.push(batch);
    else {
      this.stale = true;
      this.batches = [];
    }
    if (this.resolve) {
      const resolve = this.resolve;
      this.resolve = undefined;
      resolve();
    } else this.pending = true;
  }

  next(signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const onAbort = () => {
        this.resolve = undefined;
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.resolve = () => {
        signal.removeEventListener('abort', onAbort);
        this.pending = false;
        resolve();
      };
    });
  }
}
