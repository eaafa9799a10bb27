// Ends escrow: a miner with minJobs credited jobs over at least minDays since
// registration (or reinstatement) and no suspicion in that time becomes
// trusted, and its credits `available`.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import type { PeriodicTask } from './periodicTask.ts';

export type TrustGrantConfig = {
  /** How often, ms (MIA_TRUST_CHECK_INTERVAL_MS). */
  intervalMs: number;
  /** Credited jobs needed (MIA_TRUST_MIN_JOBS). */
  minJobs: number;
  /** Days since registration or reinstatement (MIA_TRUST_MIN_DAYS). */
  minDays: number;
};

const TrustedRow = z.object({ miners_trusted: z.number() });
const grant = defineQuery<{ min_jobs: number; min_days: number }, typeof TrustedRow>('miner_trust_grant', TrustedRow);

export function grantTrust(db: DatabasePool, config: Pick<TrustGrantConfig, 'minJobs' | 'minDays'>): Promise<{ miners_trusted: number }> {
  return db.one(grant({ min_jobs: config.minJobs, min_days: config.minDays }));
}

export function trustGrant(db: DatabasePool, config: TrustGrantConfig): PeriodicTask {
  return { name: 'mia.trust_grant', intervalMs: config.intervalMs, run: () => grantTrust(db, config) };
}
