// Suspending and reinstating miners. A suspended miner's claims are refused
// (403 miner_suspended), its running jobs go back to the queue and it earns
// nothing until the operator reinstates it (PATCH /miners/{id}).
import type { DatabasePool } from 'slonik';
import type { AppContext } from '../context.ts';
import { credits } from '../store/credits.ts';
import { miners } from '../store/miners.ts';
import { log } from '../log.ts';

export async function suspendMiner(db: DatabasePool, minerId: string, reason: string): Promise<{ suspended: boolean; jobsReleased: number }> {
  // Lock order: the miner's jobs, then the miner row.
  const result = await db.transaction(async (tx) => {
    const released = await miners.releaseJobs(tx, minerId);
    const row = await credits.suspend(tx, minerId, reason);
    return { suspended: row !== null, jobsReleased: released.length };
  });
  if (!result.suspended) return result;
  // A claim that passed its suspension check just before the commit may have
  // taken a job meanwhile: give that back too (claims after the commit are refused).
  const late = await miners.releaseJobs(db, minerId);
  return { suspended: true, jobsReleased: result.jobsReleased + late.length };
}

/** After new suspicions: suspend the miner once they reach the limit within the window. */
export async function suspendIfDue(ctx: AppContext, minerId: string): Promise<boolean> {
  const { MIA_SUSPICION_LIMIT: limit, MIA_SUSPICION_WINDOW_HOURS: windowHours } = ctx.config;
  const row = await credits.suspicionCount(ctx.db, minerId, windowHours);
  if (!row || row.suspended || row.suspicions < limit) return false;
  const reason = `${row.suspicions} suspicions within ${windowHours} h (limit ${limit})`;
  const { jobsReleased } = await suspendMiner(ctx.db, minerId, reason);
  log.warn('miner suspended', { miner_id: minerId, reason, jobs_released: jobsReleased });
  return true;
}
