// Immediate claims (GET /job/next, GET /jobs/next before they park) share claim
// statements when they overlap, as group commit does for commits: while one claim
// statement runs, the claims that arrive queue here, and the next statement claims for
// all of them at once (sql/job_claim.sql takes one miner id per wanted slot). A lone
// claim runs at once, as before; under load the statements grow instead of queueing
// up on the pool. Batch scenario 3 of `npm run bench` shows why: ten jobs per claim
// statement cost Postgres a fraction of ten statements. The claim's rules (slots,
// probation, standing, pools, models, context) are the statement's, so a shared
// statement gives each miner what its own would have: at most its room, however many
// of its requests share it.
//
// Hand-written rather than a batching library (dataloader and the like): the batch
// must be cut by slots, not keys, and split back per miner in arrival order.
import type { ClaimedJobRow } from '../store/rows.ts';
import { errorFields, log } from '../log.ts';

type Pending = {
  minerId: string;
  slots: number;
  resolve: (jobs: ClaimedJobRow[]) => void;
  reject: (error: unknown) => void;
};

/** One claim statement for these miner ids (a miner repeated once per slot), oldest request first. */
export type ClaimStatement = (minerIds: readonly string[]) => Promise<readonly ClaimedJobRow[]>;
/** Jobs a statement claimed for a request that was no longer there to take them (none in practice). */
export type GiveBack = (jobs: readonly ClaimedJobRow[]) => Promise<void>;

/** A claim statement's jobs per miner, in the statement's (queue) order; taken from with splice. */
export function jobsByMiner(claimed: readonly ClaimedJobRow[]): Map<string, ClaimedJobRow[]> {
  const byMiner = new Map<string, ClaimedJobRow[]>();
  for (const job of claimed) {
    const list = byMiner.get(job.miner_id);
    if (list) list.push(job);
    else byMiner.set(job.miner_id, [job]);
  }
  return byMiner;
}

export class GroupClaim {
  private pending: Pending[] = [];
  private running = false;

  constructor(
    private readonly claimStatement: ClaimStatement,
    private readonly giveBack: GiveBack,
    /** Most slots one statement claims (the dispatcher's rounds have the same bound). */
    private readonly maxSlots: number,
  ) {}

  /** Up to `slots` jobs for this miner, claimed now or with the claims that queue behind the one running. */
  claim(minerId: string, slots: number): Promise<ClaimedJobRow[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ minerId, slots, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) await this.statement(this.takeBatch());
    } finally {
      this.running = false;
    }
  }

  private takeBatch(): Pending[] {
    let slots = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || slots + this.pending[n]!.slots <= this.maxSlots)) {
      slots += this.pending[n]!.slots;
      n += 1;
    }
    return this.pending.splice(0, n);
  }

  private async statement(batch: readonly Pending[]): Promise<void> {
    let claimed: readonly ClaimedJobRow[];
    try {
      claimed = await this.claimStatement(batch.flatMap((p) => Array<string>(p.slots).fill(p.minerId)));
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    // Each miner's jobs, in the statement's (queue) order, to its requests in arrival order.
    const byMiner = jobsByMiner(claimed);
    for (const p of batch) p.resolve(byMiner.get(p.minerId)?.splice(0, p.slots) ?? []);
    const unplaced = [...byMiner.values()].flat();
    // The reaper gives them back at lease expiry if this fails.
    if (unplaced.length > 0) await this.giveBack(unplaced).catch((error: unknown) => log.warn('giving back unplaced claims failed', errorFields(error)));
  }
}
