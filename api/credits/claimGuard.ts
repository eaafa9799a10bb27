// A suspended miner gets no work: every claim reads the miner's standing
// first (one primary-key lookup), and a claim that parked before the
// suspension hands back what it got.
import type { AppContext } from '../context.ts';
import { credits } from '../store/credits.ts';
import { jobs } from '../store/jobs.ts';
import type { ClaimedJobRow } from '../store/rows.ts';
import { MinerSuspendedError } from '../errors.ts';

export async function refuseIfSuspended(ctx: AppContext, minerId: string, claimed: readonly ClaimedJobRow[] = []): Promise<void> {
  const standing = await credits.standing(ctx.db, minerId);
  if (!standing?.suspended_at) return;
  if (claimed.length > 0) await jobs.release(ctx.db, claimed.map((j) => j.lease_token));
  throw new MinerSuspendedError(standing.suspended_reason);
}
