// What request handlers share: built once per API process by api/server.ts.
import type { DatabasePool } from 'slonik';
import type { Config } from './config.ts';
import type { PrincipalResolver } from './auth/principal.ts';
import type { ClaimDispatcher } from './queue/claimDispatcher.ts';
import type { CompletionWaiters } from './queue/completionWaiters.ts';
import type { NotificationListener } from './queue/notificationListener.ts';
import type { ClaimSettings, Lease } from './store/miners.ts';
import type { Maintenance } from './maintenance/startMaintenance.ts';
import type { StreamHub } from './streaming/streamHub.ts';
import type { DeltaNotifier } from './streaming/deltaNotifier.ts';
import type { Metrics } from './metrics/registry.ts';

export type AppContext = {
  config: Config;
  db: DatabasePool;
  principals: PrincipalResolver;
  dispatcher: ClaimDispatcher;
  completions: CompletionWaiters;
  listener: NotificationListener;
  /** Live answers: readers of this process wait in the hub; the notifier tells other processes. */
  streams: { hub: StreamHub; notifier: DeltaNotifier };
  /** The maintenance worker (api/maintenance/); null when MIA_WORKER=off. */
  maintenance: Maintenance | null;
  /** Set when SIGTERM arrives: new long-polls get 204/503 at once. */
  draining: boolean;
  version: string;
  /** This process's Prometheus registry and the observations it takes (api/metrics/registry.ts). */
  metrics: Metrics;
};

export function leaseSettings(config: Config): Lease {
  return { lease_base_s: config.MIA_LEASE_BASE_SECONDS, lease_ms_per_token: config.MIA_LEASE_MS_PER_TOKEN };
}

export function claimSettings(config: Config): ClaimSettings {
  return {
    ...leaseSettings(config),
    retry_avoid_s: config.MIA_RETRY_AVOID_SECONDS,
    probation_jobs: config.MIA_PROBATION_JOBS,
    probation_slots: config.MIA_PROBATION_SLOTS,
    probation_free_drops: config.MIA_PROBATION_FREE_DROPS,
    hold_hours: config.MIA_SUSPENDED_ADDRESS_HOLD_HOURS,
  };
}
