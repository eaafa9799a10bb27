// Refreshes mia.system_metrics (jobs by status, queue depth, oldest queued
// age, miners by status, token and job totals, per-minute throughput and
// dispatch latency) so dashboards and psql read one small table instead of
// scanning mia.jobs.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import type { PeriodicTask } from './periodicTask.ts';

export type MetricsRollupConfig = {
  /** How often to refresh, ms (MIA_METRICS_ROLLUP_INTERVAL_MS). */
  intervalMs: number;
  /** The window per-minute rates are measured over, s. */
  windowSeconds: number;
};

export const metricsRollupDefaults = { windowSeconds: 60 } as const;

const RollupRow = z.object({ metrics: z.number() });
const rollup = defineQuery<{ window_s: number }, typeof RollupRow>('metrics_rollup', RollupRow);

export async function rollUpMetrics(
  db: DatabasePool,
  config: Pick<MetricsRollupConfig, 'windowSeconds'> = metricsRollupDefaults,
): Promise<number> {
  return (await db.one(rollup({ window_s: config.windowSeconds }))).metrics;
}

export function metricsRollup(db: DatabasePool, config: MetricsRollupConfig): PeriodicTask {
  return {
    name: 'mia.metrics_rollup',
    intervalMs: config.intervalMs,
    // Nothing worth a log line: the figures are in the table.
    run: async () => {
      await rollUpMetrics(db, config);
      return {};
    },
  };
}
