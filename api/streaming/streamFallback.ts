// The streams' safety net for a NOTIFY lost in transit, and for the changes nothing
// notifies (a claim: `started`; a give-back: `restart`). Every MIA_FALLBACK_POLL_MS the
// process reads the state of every job its streams wait on in ONE statement
// (sql/jobs_stream_state_get.sql) and wakes only the readers whose job moved since the
// last look. Idle streams then cost one statement per tick per process, not one read
// per stream per tick (1,000 idle streams: ~480 commits/s before, issue 17).
import type { DatabasePool } from 'slonik';
import { jobDeltas } from '../store/jobDeltas.ts';
import type { StreamHub } from './streamHub.ts';
import { errorFields, log } from '../log.ts';

export class StreamFallback {
  /** What each watched job looked like at the last check: status, attempt, last batch. */
  private readonly seen = new Map<string, string>();
  private running = false;

  constructor(
    private readonly db: DatabasePool,
    private readonly hub: StreamHub,
  ) {}

  /** One check; a failed read wakes everyone (each reader then reads for itself, as before). */
  async check(): Promise<void> {
    if (this.running) return; // a slow check is not stacked on by the next tick
    this.running = true;
    try {
      const ids = this.hub.jobIds();
      for (const id of this.seen.keys()) if (!ids.includes(id)) this.seen.delete(id);
      if (ids.length === 0) return;
      const states = new Map((await jobDeltas.streamStates(this.db, ids)).map((r) => [r.job_id, `${r.status}:${r.attempts}:${r.last_seq}`] as const));
      for (const id of ids) {
        const now = states.get(id) ?? 'gone';
        if (this.seen.get(id) === now) continue;
        // A job seen for the first time is woken once too: its reader may have missed a
        // change between its own read and its subscription's first check.
        this.seen.set(id, now);
        this.hub.wake(id);
      }
    } catch (error) {
      log.warn('stream fallback check failed; every stream re-reads', errorFields(error));
      this.hub.wakeAll();
    } finally {
      this.running = false;
    }
  }
}
