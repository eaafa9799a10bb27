// A suspended miner gets no work: the claim gives it nothing (mia.claim_jobs, the
// dispatcher's rounds for parked miners too), and a claim that came back empty reads
// why and answers 403. Nor does a held one: a new identity
// registered from the address of a recently suspended miner
// (MIA_SUSPENDED_ADDRESS_HOLD_HOURS, sql/miner_standing.sql), until the
// operator reinstates it.
import type { AppContext } from '../context.ts';
import { credits, type Standing, type StandingSettings } from '../store/credits.ts';
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
 * A claim at once, for a miner in good standing: the claim first (one round trip, shared with
 * overlapping claims; it gives a suspended or held miner nothing, and at most its room: its slots, or probation's, minus
 * what it runs), and only when it came back empty the standing, to refuse a suspended or
 * held miner (403) or to say how many jobs a claim that parks should ask for (`maxJobs`:
 * its room, at least 1, so a miner asking for 100 does not take 100 slots of a dispatch
 * round from the miners parked behind it).
 */
export async function claimIfInGoodStanding(
  ctx: AppContext,
  minerId: string,
  asked: number,
): Promise<{ claimed: readonly ClaimedJobRow[]; maxJobs: number }> {
  // Shared with the claims that overlap it (api/queue/groupClaim.ts).
  const claimed = await ctx.dispatcher.claimNow(minerId, asked);
  if (claimed.length > 0) return { claimed, maxJobs: asked };
  const standing = await credits.standing(ctx.db, minerId, standingSettings(ctx));
  // No such miner: nothing to claim (the claim statement found no miner row either).
  if (!standing) return { claimed, maxJobs: asked };
  throwIfRefused(ctx, standing);
  return { claimed, maxJobs: Math.max(1, Math.min(asked, standing.room)) };
}
