// POST /chat (with wait) and GET /job/{id}/result?wait= park here until their
// job reaches a final state. Wake-ups come from NOTIFY mia_job_finished (any
// API process's miner may have completed it); a slow fallback tick and the
// listener's resync re-check all parked jobs in one query.
import type { DatabasePool } from 'slonik';
import { jobs } from '../store/jobs.ts';
import { errorFields, log } from '../log.ts';

export class CompletionWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly db: DatabasePool) {}

  get parked(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }

  /** Resolves when the job is reported finished or after timeoutMs; the caller re-reads the job. */
  wait(jobId: string, timeoutMs: number): { promise: Promise<void>; cancel: () => void } {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), timeoutMs);
      done = () => {
        clearTimeout(timer);
        const set = this.waiting.get(jobId);
        set?.delete(done);
        if (set?.size === 0) this.waiting.delete(jobId);
        resolve();
      };
    });
    const set = this.waiting.get(jobId) ?? new Set();
    set.add(done);
    this.waiting.set(jobId, set);
    return { promise, cancel: done };
  }

  finished(jobId: string): void {
    const set = this.waiting.get(jobId);
    if (!set) return;
    for (const done of [...set]) done();
  }

  /** Re-check every parked job (after a reconnect, or on the fallback tick). */
  async resync(): Promise<void> {
    if (this.waiting.size === 0) return;
    try {
      for (const id of await jobs.finishedAmong(this.db, [...this.waiting.keys()])) this.finished(id);
    } catch (error) {
      log.warn('completion resync failed', errorFields(error));
    }
  }

  releaseAll(): void {
    for (const id of [...this.waiting.keys()]) this.finished(id);
  }
}
