// Long-polling miners (GET /job/next, GET /jobs/next) park here, in memory,
// holding no database connection. When a job is queued (NOTIFY), on a slow
// fallback tick, or after the listener reconnects, the dispatcher claims jobs
// for the parked miners in FIFO order with ONE claim statement per round
// (sql/job_claim.sql takes one miner id per wanted job), so a burst of work
// reaches N waiting miners in a few round trips instead of N racing queries.
import type { DatabasePool } from 'slonik';
import { jobs } from '../store/jobs.ts';
import type { ClaimedJobRow } from '../store/rows.ts';
import type { ClaimSettings } from '../store/miners.ts';
import { errorFields, log } from '../log.ts';
import { GroupClaim, jobsByMiner } from './groupClaim.ts';

type Waiter = {
  minerId: string;
  maxJobs: number;
  resolve: (jobs: ClaimedJobRow[]) => void;
  timer: NodeJS.Timeout;
  /** False once the client has gone away; its claimed jobs must be released. */
  isAlive: () => boolean;
};

// Most job slots claimed in one round; bounds the statement and the latency of one round.
const maxSlotsPerRound = 200;

export class ClaimDispatcher {
  private waiters: Waiter[] = [];
  private running = false;
  private again = false;
  /** Bumped on every wake-up; lets a request that was mid-claim notice one it missed. */
  private generation = 0;

  /** Claims that do not park: overlapping ones share a statement (api/queue/groupClaim.ts). */
  private readonly immediate: GroupClaim;

  constructor(
    private readonly db: DatabasePool,
    private readonly lease: () => ClaimSettings,
  ) {
    this.immediate = new GroupClaim(
      (minerIds) => jobs.claim(this.db, minerIds, this.lease()),
      async (orphans) => {
        await jobs.release(this.db, orphans.map((j) => j.lease_token));
      },
      maxSlotsPerRound,
    );
  }

  /** Up to `slots` jobs for this miner now, without parking ([] when none). */
  claimNow(minerId: string, slots: number): Promise<ClaimedJobRow[]> {
    return this.immediate.claim(minerId, slots);
  }

  get parked(): number {
    return this.waiters.length;
  }

  currentGeneration(): number {
    return this.generation;
  }

  /**
   * Park until at least one job is claimed for this miner or the timeout passes
   * (resolves []). `seenGeneration` is the generation read before the caller's
   * own failed claim: a wake-up that came in between triggers a round now.
   */
  park(options: {
    minerId: string;
    maxJobs: number;
    timeoutMs: number;
    seenGeneration: number;
    isAlive: () => boolean;
  }): { promise: Promise<ClaimedJobRow[]>; cancel: () => void } {
    let waiter!: Waiter;
    const promise = new Promise<ClaimedJobRow[]>((resolve) => {
      waiter = {
        minerId: options.minerId,
        maxJobs: options.maxJobs,
        resolve,
        isAlive: options.isAlive,
        timer: setTimeout(() => this.remove(waiter, []), options.timeoutMs),
      };
    });
    this.waiters.push(waiter);
    if (this.generation !== options.seenGeneration) this.wake();
    return { promise, cancel: () => this.remove(waiter, []) };
  }

  /** A job may be waiting: run claim rounds until the queue or the waiters run out. */
  wake(): void {
    this.generation += 1;
    if (this.waiters.length === 0) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.run();
  }

  /** Answer every parked request with "no job" (graceful shutdown). */
  releaseAll(): void {
    for (const waiter of [...this.waiters]) this.remove(waiter, []);
  }

  private remove(waiter: Waiter, result: ClaimedJobRow[]): void {
    const index = this.waiters.indexOf(waiter);
    if (index !== -1) this.waiters.splice(index, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(result);
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        while (await this.round()) {
          /* keep claiming while every slot asked for got a job */
        }
      } while (this.again && this.waiters.length > 0);
    } catch (error) {
      // The waiters stay parked; the fallback tick or the next NOTIFY retries.
      log.warn('claim round failed', errorFields(error));
    } finally {
      this.running = false;
    }
  }

  /** One claim statement for the oldest waiters. True when the queue may hold more. */
  private async round(): Promise<boolean> {
    for (const gone of this.waiters.filter((w) => !w.isAlive())) this.remove(gone, []);
    const batch: Waiter[] = [];
    let slots = 0;
    for (const waiter of this.waiters) {
      if (slots + waiter.maxJobs > maxSlotsPerRound && batch.length > 0) break;
      batch.push(waiter);
      slots += waiter.maxJobs;
    }
    if (batch.length === 0) return false;

    const minerIds = batch.flatMap((w) => Array<string>(w.maxJobs).fill(w.minerId));
    const claimed = await jobs.claim(this.db, minerIds, this.lease());

    const byMiner = jobsByMiner(claimed);
    const orphans: ClaimedJobRow[] = [];
    for (const waiter of batch) {
      const mine = byMiner.get(waiter.minerId) ?? [];
      if (mine.length === 0) continue;
      const given = mine.splice(0, waiter.maxJobs);
      if (!this.waiters.includes(waiter) || !waiter.isAlive()) {
        orphans.push(...given); // it timed out or hung up while we were claiming
        this.remove(waiter, []);
        continue;
      }
      this.remove(waiter, given);
    }
    for (const rest of byMiner.values()) orphans.push(...rest);
    if (orphans.length > 0) await jobs.release(this.db, orphans.map((j) => j.lease_token));

    return claimed.length === minerIds.length;
  }
}
