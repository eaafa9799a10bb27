// A suspended miner gets no work: every claim reads the miner's standing
// first (one primary-key lookup, in the claim's own transaction), and a claim
// that parked before the suspension hands back what it got. Nor does a held one: a new identity
// registered from the address of a recently suspended miner
// (MIA_SUSPENDED_ADDRESS_HOLD_HOURS, sql/miner_standing.sql), until the
// operator reinstates it.
import type { AppContext } from '../context.ts';
import { claimSettings } from '../context.ts';
import { credits, type Standing, type StandingSettings } from '../store/credits.ts';
import { jobs } from '../store/jobs.ts';
import type { ClaimedJobRow } from '../store/rows.ts';
import { MinerHeldError, MinerSuspendedError } from '../errors.ts';

function standingSettings(ctx: AppContext): StandingSettings {
  const { config } = ctx;
  return {
    hold_hours: config.MIA_SUSPENDED_ADDRESS_HOLD_HOURS,
    probation_jobs: config.MIA_PROBATION_JOBS,
    probation_slots: config.MIA_PROBATION_SLOTS,
  };
}

function throwIfRefused(ctx: AppContext, standing: Standing): void {
  if (standing.suspended_at) throw new MinerSuspendedError(standing.suspended_reason);
  if (standing.held) throw new MinerHeldError(ctx.config.MIA_SUSPENDED_ADDRESS_HOLD_HOURS);
}

/**
 * A claim at once, for a miner in good standing, in one transaction: the standing read
 * (which takes the miner's claim lock, sql/miner_standing.sql), then the claim of at most
 * the room it reports (its slots, or probation's, minus what it runs; at least 1). A
 * suspended or held miner is refused (403) before anything is claimed. `maxJobs`: what
 * a claim that parks should ask for.
 */
export function claimIfInGoodStanding(
  ctx: AppContext,
  minerId: string,
  asked: number,
): Promise<{ claimed: readonly ClaimedJobRow[]; maxJobs: number }> {
  return ctx.db.transaction(async (tx) => {
    const standing = await credits.standing(tx, minerId, standingSettings(ctx));
    // No such miner: nothing to claim (the claim statement would find no miner row either).
    if (!standing) return { claimed: [], maxJobs: asked };
    throwIfRefused(ctx, standing);
    // No more than the claim would give: a miner asking for 100 must not take 100 slots of a
    // dispatch round from the miners parked behind it. A full one still parks for one.
    const maxJobs = Math.max(1, Math.min(asked, standing.room));
    const claimed = await jobs.claimLocked(tx, Array<string>(maxJobs).fill(minerId), claimSettings(ctx.config));
    return { claimed, maxJobs };
  });
}

/** After a parked claim: throws 403 for a miner suspended or held meanwhile, handing back what it got. */
export async function refuseIfSuspended(ctx: AppContext, minerId: string, claimed: readonly ClaimedJobRow[]): Promise<void> {
  const standing = await credits.standing(ctx.db, minerId, standingSettings(ctx));
  if (!standing || (!standing.suspended_at && !standing.held)) return;
  if (claimed.length > 0) await jobs.release(ctx.db, claimed.map((j) => j.lease_token));
  throwIfRefused(ctx, standing);
}
