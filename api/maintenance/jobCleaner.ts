// Deletes finished jobs (completed, failed, cancelled) once they are older
// than the retention period, in bounded batches so no statement holds many
// locks or writes a burst of WAL. Chat logs are kept: a session's history
// outlives its jobs (chat_logs has no foreign key to jobs).
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import type { PeriodicTask } from './periodicTask.ts';

export type JobCleanerConfig = {
  /** How often to purge, ms (MIA_PURGE_INTERVAL_MS). */
  intervalMs: number;
  /** Finished jobs older than this are deleted, hours (MIA_JOB_RETENTION_HOURS). */
  retentionHours: number;
  /** Rows per DELETE (MIA_PURGE_BATCH_SIZE). */
  batchSize: number;
  /** DELETEs per run at most; a larger backlog is worked off over several runs. */
  maxBatches: number;
};

export const jobCleanerDefaults = { maxBatches: 100 } as const;

const PurgedRow = z.object({ deleted: z.number() });
const purge = defineQuery<{ retention_s: number; batch_size: number }, typeof PurgedRow>(
  'job_purge_finished',
  PurgedRow,
);

export async function purgeFinishedJobs(
  db: DatabasePool,
  config: Pick<JobCleanerConfig, 'retentionHours' | 'batchSize' | 'maxBatches'>,
): Promise<{ deleted: number }> {
  let deleted = 0;
  for (let batch = 0; batch < config.maxBatches; batch++) {
    const row = await db.one(
      purge({ retention_s: config.retentionHours * 3600, batch_size: config.batchSize }),
    );
    deleted += row.deleted;
    if (row.deleted < config.batchSize) break;
  }
  return { deleted };
}

export function jobCleaner(db: DatabasePool, config: JobCleanerConfig): PeriodicTask {
  return {
    name: 'mia.job_purge',
    intervalMs: config.intervalMs,
    run: () => purgeFinishedJobs(db, config),
  };
}
