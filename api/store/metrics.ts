import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';

const Snapshot = z.object({
  jobs_by_status: z.record(z.string(), z.number()),
  queue_depth: z.number(),
  oldest_queued_age_seconds: z.number(),
  miners_by_status: z.record(z.string(), z.number()),
  total_tokens_generated: z.number(),
  total_jobs_completed: z.number(),
});
export type MetricsSnapshot = z.infer<typeof Snapshot>;
const snapshot = defineQuery<Record<string, never>, typeof Snapshot>('metrics_snapshot', Snapshot);
const applied = defineQuery<Record<string, never>, z.ZodObject<{ name: z.ZodString }>>(
  'migrations_applied',
  z.object({ name: z.string() }),
);

export const metrics = {
  snapshot: (db: DatabasePool) => db.one(snapshot({})),
  migrationsApplied: async (db: DatabasePool) => (await db.any(applied({}))).map((r) => r.name),
};
