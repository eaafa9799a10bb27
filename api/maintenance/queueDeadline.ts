// Fails queued jobs nobody took before their queue deadline (jobs.queue_deadline,
// from POST /chat `queue_timeout` or MIA_QUEUE_TIMEOUT_SECONDS), so "every job
// ends" holds also when no miner can serve it: none online, all busy, or every
// attempt failed. Runs on the lease reaper's interval: a deadline is kept to
// within one interval.
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { IdRow } from '../store/rows.ts';
import type { PeriodicTask } from './periodicTask.ts';

const expireUnclaimed = defineQuery<{ batch_size: number }, typeof IdRow>('job_expire_unclaimed', IdRow);

export type QueueDeadlineConfig = { intervalMs: number; batchSize: number; maxBatches: number };
export const queueDeadlineDefaults = { batchSize: 1000, maxBatches: 20 } as const;

export async function expireUnclaimedJobs(db: DatabasePool, config: Omit<QueueDeadlineConfig, 'intervalMs'>): Promise<{ expired: number }> {
  let expired = 0;
  for (let batch = 0; batch < config.maxBatches; batch++) {
    const rows = await db.any(expireUnclaimed({ batch_size: config.batchSize }));
    expired += rows.length;
    if (rows.length < config.batchSize) break;
  }
  return { expired };
}

export function queueDeadline(db: DatabasePool, config: QueueDeadlineConfig): PeriodicTask {
  return { name: 'mia.queue_deadline', intervalMs: config.intervalMs, run: () => expireUnclaimedJobs(db, config) };
}
