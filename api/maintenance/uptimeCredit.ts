// Credits miners for being online and of use: once per interval (a fixed bin
// of the clock), every miner that is not offline, was seen within the interval,
// is not suspended, and either completed credited work in the interval or could
// have served one of its jobs (its context holds the job's need) gets
// creditsPerHour × the interval's share of an hour (sql/miner_credit_uptime.sql).
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import type { PeriodicTask } from './periodicTask.ts';

export type UptimeCreditConfig = {
  /** Interval length and how often the task runs, ms (MIA_UPTIME_CREDIT_INTERVAL_MS). */
  intervalMs: number;
  /** Credits per hour online (MIA_UPTIME_CREDITS_PER_HOUR). */
  creditsPerHour: number;
};

const CreditedRow = z.object({ miners_credited: z.number() });
const creditUptime = defineQuery<{ interval_s: number; credits: number }, typeof CreditedRow>('miner_credit_uptime', CreditedRow);

export function creditOnlineMiners(db: DatabasePool, config: UptimeCreditConfig): Promise<{ miners_credited: number }> {
  return db.one(creditUptime({ interval_s: config.intervalMs / 1000, credits: (config.creditsPerHour * config.intervalMs) / 3_600_000 }));
}

export function uptimeCredit(db: DatabasePool, config: UptimeCreditConfig): PeriodicTask {
  return {
    name: 'mia.uptime_credit',
    // Twice per interval, so a late tick still lands in its bin.
    intervalMs: Math.max(1000, Math.floor(config.intervalMs / 2)),
    run: () => creditOnlineMiners(db, config),
  };
}
