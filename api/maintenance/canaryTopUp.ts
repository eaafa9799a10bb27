// Submits canary jobs (README "Proof of work: canaries"): MIA_CANARY_RATE per online
// miner per hour, per model its miners serve, every MIA_CANARY_INTERVAL_MS. Per miner
// rather than a share of claims, so a miner is tested however little it claims, and a
// quiet hour still verifies a newcomer; at most one waiting canary per miner of a
// model, so canaries do not pile up while its miners are busy or away.
import type { DatabasePool } from 'slonik';
import type { Config } from '../config.ts';
import { topUpCanaries } from '../trust/canaries.ts';
import type { PeriodicTask } from './periodicTask.ts';

export function canaryTopUp(db: DatabasePool, config: Config): PeriodicTask {
  const intervalMs = config.MIA_CANARY_INTERVAL_MS;
  return { name: 'mia.canary_top_up', intervalMs, run: () => topUpCanaries({ db, config }, intervalMs) };
}
