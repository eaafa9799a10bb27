// Fails queued jobs that became unroutable (issue 17): miners are online, but none has
// a context that holds the job, or none serves the model it names (the only big miner,
// or the only one of its model, left), so without
// this the job would wait out its whole queue deadline. The error begins
// `no_capable_miner:` and names the job's need and the largest context online. Jobs
// whose business asked to wait (jobs.waits_for_miner) are left to their deadline
// (api/maintenance/queueDeadline.ts), and so is every job while no miner is online.
// Runs on the lease reaper's interval: an unroutable job fails within seconds.
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { IdRow } from '../store/rows.ts';
import type { PeriodicTask } from './periodicTask.ts';

const failUnroutable = defineQuery<{ batch_size: number }, typeof IdRow>('job_fail_unroutable', IdRow);
/** Jobs that name a model none online runs for them (migration 0121). */
const failUnroutableModel = defineQuery<{ batch_size: number }, typeof IdRow>('job_fail_unroutable_model', IdRow);
/** Jobs of a restricted business no online miner of its pool can take (migration 0170, README "Pools"). */
const failUnpooled = defineQuery<{ batch_size: number }, typeof IdRow>('job_fail_unpooled', IdRow);

export type UnroutableJobsConfig = { intervalMs: number; batchSize: number; maxBatches: number };
export const unroutableJobsDefaults = { batchSize: 1000, maxBatches: 20 } as const;

export async function failUnroutableJobs(db: DatabasePool, config: Omit<UnroutableJobsConfig, 'intervalMs'>): Promise<{ failed: number }> {
  let failed = 0;
  for (const statement of [failUnroutable, failUnroutableModel, failUnpooled]) {
    for (let batch = 0; batch < config.maxBatches; batch++) {
      const rows = await db.any(statement({ batch_size: config.batchSize }));
      failed += rows.length;
      if (rows.length < config.batchSize) break;
    }
  }
  return { failed };
}

export function unroutableJobs(db: DatabasePool, config: UnroutableJobsConfig): PeriodicTask {
  return { name: 'mia.unroutable_jobs', intervalMs: config.intervalMs, run: () => failUnroutableJobs(db, config) };
}
