// Takes back running jobs whose lease expired: their miner stopped
// heartbeating (crashed, lost its network, was kill -9'd). With the lease
// length, the interval bounds how long such a job waits: it is claimable again
// within lease + intervalMs, and the queued trigger wakes long-polling miners.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { JobStatus } from '../store/rows.ts';
import type { PeriodicTask } from './periodicTask.ts';

export type LeaseReaperConfig = {
  /** How often to look for expired leases, ms (MIA_REAP_INTERVAL_MS). */
  intervalMs: number;
  /** Jobs taken back per statement. */
  batchSize: number;
  /** Statements per run at most; anything left waits for the next run. */
  maxBatches: number;
};

export const leaseReaperDefaults = { batchSize: 1000, maxBatches: 20 } as const;

const ReapedRow = z.object({ job_id: z.uuid(), status: JobStatus });
const reapExpired = defineQuery<{ batch_size: number }, typeof ReapedRow>(
  'job_reap_expired',
  ReapedRow,
);

export async function reapExpiredLeases(
  db: DatabasePool,
  config: Pick<LeaseReaperConfig, 'batchSize' | 'maxBatches'> = leaseReaperDefaults,
): Promise<{ requeued: number; dead_lettered: number }> {
  let requeued = 0;
  let deadLettered = 0;
  for (let batch = 0; batch < config.maxBatches; batch++) {
    const rows = await db.any(reapExpired({ batch_size: config.batchSize }));
    for (const row of rows) {
      if (row.status === 'failed') deadLettered += 1;
      else requeued += 1;
    }
    if (rows.length < config.batchSize) break;
  }
  return { requeued, dead_lettered: deadLettered };
}

export function leaseReaper(db: DatabasePool, config: LeaseReaperConfig): PeriodicTask {
  return {
    name: 'mia.lease_reap',
    intervalMs: config.intervalMs,
    run: () => reapExpiredLeases(db, config),
  };
}
