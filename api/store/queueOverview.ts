// The queue at a glance for the operator (GET /queue): sql/queue_overview.sql.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { timestamp } from './rows.ts';

const OverviewRow = z.object({
  queued: z.number().int(),
  running: z.number().int(),
  oldest_queued_seconds: z.number().nullable(),
  unroutable: z.number().int(),
  miners_online: z.number().int(),
  failed_last_hour: z.number().int(),
  by_model: z.array(z.object({ model: z.string().nullable(), queued: z.number().int(), running: z.number().int(), miners_online: z.number().int() })),
  at: timestamp,
});
export type QueueOverview = z.infer<typeof OverviewRow>;
const overview = defineQuery<Record<string, never>, typeof OverviewRow>('queue_overview', OverviewRow);

export const queueOverview = {
  get: (db: DatabasePool) => db.one(overview({})),
};
