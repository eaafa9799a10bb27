// Marks miners that have gone silent as offline and hands their running jobs
// back at once, without waiting for each lease to run out. Silence means no
// heartbeat, no long-poll and no result: a long-poll refreshes last_active at
// most every 10 s and may park for 60 s, so offlineAfterSeconds must stay above
// about 70 s in production or idle long-polling miners get marked offline.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import type { PeriodicTask } from './periodicTask.ts';

export type MinerOfflineMarkerConfig = {
  /** How often to look for silent miners, ms (MIA_MINER_CHECK_INTERVAL_MS). */
  intervalMs: number;
  /** Silence after which a miner is offline, s (MIA_MINER_OFFLINE_AFTER_SECONDS). */
  offlineAfterSeconds: number;
};

const MarkedRow = z.object({ miners_marked: z.number(), jobs_released: z.number() });
const markOffline = defineQuery<{ offline_after_s: number }, typeof MarkedRow>(
  'miner_mark_offline',
  MarkedRow,
);

export async function markSilentMinersOffline(
  db: DatabasePool,
  config: Pick<MinerOfflineMarkerConfig, 'offlineAfterSeconds'>,
): Promise<{ miners_marked: number; jobs_released: number }> {
  return db.one(markOffline({ offline_after_s: config.offlineAfterSeconds }));
}

export function minerOfflineMarker(
  db: DatabasePool,
  config: MinerOfflineMarkerConfig,
): PeriodicTask {
  return {
    name: 'mia.miner_offline_mark',
    intervalMs: config.intervalMs,
    run: () => markSilentMinersOffline(db, config),
  };
}
