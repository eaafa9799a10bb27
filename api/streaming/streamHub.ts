// Where stream readers of this API process wait for news of their job. A wake
// comes from a delta stored by this process (at once), from another process
// (NOTIFY mia_job_delta, coalesced by its DeltaNotifier), from a job finishing
// (NOTIFY mia_job_finished, which the reader asked for via job_watch), from the
// fallback check when the job's state moved (api/streaming/streamFallback.ts: one
// statement per tick for the whole process), or from the listener's resync
// (everyone re-reads).
//
// A subscription holds no timer and no connection: a reader that is gone
// unsubscribes and leaves nothing behind (`subscribers` shows it).
export type Subscription = {
  /** Resolves at the next wake after the last `changed()` (at once if one came meanwhile), or when `signal` aborts. */
  changed: (signal: AbortSignal) => Promise<void>;
  close: () => void;
};

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
      close: () => {
        waker.wake();
        set.delete(waker);
        if (set.size === 0 && this.byJob.get(jobId) === set) this.byJob.delete(jobId);
      },
    };
  }

  wake(jobId: string): void {
    const set = this.byJob.get(jobId);
    if (set) for (const waker of set) waker.wake();
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

  wake(): void {
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
