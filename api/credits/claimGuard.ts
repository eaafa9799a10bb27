// A suspended miner gets no work: every claim reads the miner's standing
// first (one primary-key lookup), and a claim that parked before the
// suspension hands back what it got. Nor does a held one: a new identity
// registered from the address of a recently suspended miner
// (MIA_SUSPENDED_ADDRESS_HOLD_HOURS, sql/miner_standing.sql), until the
// operator reinstates it.
import type { AppContext } from '../context.ts';
import { credits, type Standing } from '../store/credits.ts';
import { jobs } from '../store/jobs.ts';
import type { ClaimedJobRow } from '../store/rows.ts';
import { MinerHeldError, MinerSuspendedError } from '../errors.ts';

/** Throws 403 for a suspended or held miner; else its standing (null: no such miner). */
export async function refuseIfSuspended(ctx: AppContext, minerId: string, claimed: readonly ClaimedJobRow[] = []): Promise<Standing | null> {
  const { config } = ctx;
  const standing = await credits.standing(ctx.db, minerId, {
    hold_hours: config.MIA_SUSPENDED_ADDRESS_HOLD_HOURS,
    probation_jobs: config.MIA_PROBATION_JOBS,
    probation_slots: config.MIA_PROBATION_SLOTS,
  });
  if (!standing || (!standing.suspended_at && !standing.held)) return standing;
  if (claimed.length > 0) await jobs.release(ctx.db, claimed.map((j) => j.lease_token));
  if (standing.suspended_at) throw new MinerSuspendedError(standing.suspended_reason);
  throw new MinerHeldError(config.MIA_SUSPENDED_ADDRESS_HOLD_HOURS);
}
