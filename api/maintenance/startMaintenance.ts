// The maintenance worker: graphile-worker (its own schema, graphile_worker, in
// the same database, and small pools of its own) running the tasks of this folder.
// The API process runs it unless MIA_WORKER=off (extra replicas).
//
// Scheduling. graphile-worker's crontab has minute resolution; the lease reaper
// must run every few seconds. So every process that runs a worker adds each
// periodic task as a job every intervalMs, under a job key equal to the task
// name with jobKeyMode 'preserve_run_at': while one run is still waiting, the
// add changes nothing, so several replicas share the work instead of
// multiplying it (at most one run waits; overlapping ticks of different
// replicas can at worst add a run, which is harmless: every task is one
// idempotent statement with SKIP LOCKED). A worker that dies mid-run leaves
// its job locked; the next tick of any live worker adds a fresh one (add_job
// clears the key of a locked job), so a reap is never missed for longer than
// one interval. Periodic tasks never throw: a failure is logged and the next
// tick retries, so graphile-worker keeps no failed jobs and backs nothing off.
//
// Two workers. Webhook jobs are added by a trigger (migrations/0003, 0008), use
// graphile-worker's retries, and run in a worker of their own
// (MIA_WEBHOOK_CONCURRENCY slots) beside the one for the periodic tasks
// (MIA_WORKER_CONCURRENCY): a worker fetches only jobs of the tasks it knows,
// so receivers that hang until MIA_WEBHOOK_TIMEOUT_MS, however many, can never
// take the lease reaper's slot. Within the webhook worker each business has its
// own two serial queues (migration 0008), so one business's dead receiver holds
// at most two of its slots.
import type { TaskList } from 'graphile-worker';
import type { DatabasePool } from 'slonik';
import type { Config } from '../config.ts';
import { errorFields, log } from '../log.ts';
import type { PeriodicTask } from './periodicTask.ts';
import { workerLogger } from './workerLogger.ts';
import { leaseReaper, leaseReaperDefaults } from './leaseReaper.ts';
import { minerOfflineMarker } from './minerOfflineMarker.ts';
import { metricsRollup, metricsRollupDefaults } from './metricsRollup.ts';
import { jobCleaner, jobCleanerDefaults } from './jobCleaner.ts';
import { webhookSender, webhookTaskName } from './webhookSender.ts';
import { queueDeadline, queueDeadlineDefaults } from './queueDeadline.ts';
import { unroutableJobs, unroutableJobsDefaults } from './unroutableJobs.ts';
import { startSupervisedRunner } from './supervisedRunner.ts';
import { uptimeCredit } from './uptimeCredit.ts';
import { trustGrant } from './trustGrant.ts';
import { canaryTopUp } from './canaryTopUp.ts';
import type { FailureReason, Metrics } from '../metrics/registry.ts';

export type Maintenance = {
  /** Stop scheduling, let running tasks finish, close the worker's pool. Call before the main pool closes. */
  stop: () => Promise<void>;
  /** False while the worker is down or its last scheduling attempt failed (database unreachable). */
  healthy: () => boolean;
};

function periodicTasks(config: Config, db: DatabasePool): PeriodicTask[] {
  const tasks = [
    leaseReaper(db, { intervalMs: config.MIA_REAP_INTERVAL_MS, ...leaseReaperDefaults }),
    queueDeadline(db, { intervalMs: config.MIA_REAP_INTERVAL_MS, ...queueDeadlineDefaults }),
    unroutableJobs(db, { intervalMs: config.MIA_REAP_INTERVAL_MS, ...unroutableJobsDefaults }),
    minerOfflineMarker(db, {
      intervalMs: config.MIA_MINER_CHECK_INTERVAL_MS,
      offlineAfterSeconds: config.MIA_MINER_OFFLINE_AFTER_SECONDS,
    }),
    metricsRollup(db, {
      intervalMs: config.MIA_METRICS_ROLLUP_INTERVAL_MS,
      ...metricsRollupDefaults,
    }),
    trustGrant(db, {
      intervalMs: config.MIA_TRUST_CHECK_INTERVAL_MS,
      minJobs: config.MIA_TRUST_MIN_JOBS,
      minDays: config.MIA_TRUST_MIN_DAYS,
    }),
  ];
  if (config.MIA_UPTIME_CREDITS_PER_HOUR > 0) {
    tasks.push(
      uptimeCredit(db, {
        intervalMs: config.MIA_UPTIME_CREDIT_INTERVAL_MS,
        creditsPerHour: config.MIA_UPTIME_CREDITS_PER_HOUR,
      }),
    );
  }
  if (config.MIA_CANARY_RATE > 0) tasks.push(canaryTopUp(db, config));
  if (config.MIA_JOB_RETENTION_HOURS > 0) {
    tasks.push(
      jobCleaner(db, {
        intervalMs: config.MIA_PURGE_INTERVAL_MS,
        retentionHours: config.MIA_JOB_RETENTION_HOURS,
        batchSize: config.MIA_PURGE_BATCH_SIZE,
        ...jobCleanerDefaults,
      }),
    );
  }
  return tasks;
}

/** The jobs a task ends or takes back, counted in mia_job_failures_total by this process. */
const failuresCounted: Record<string, { reason: FailureReason; keys: string[] }> = {
  'mia.lease_reap': { reason: 'lease_expired', keys: ['requeued', 'dead_lettered'] },
  'mia.miner_offline_mark': { reason: 'miner_offline', keys: ['jobs_released'] },
  'mia.queue_deadline': { reason: 'deadline', keys: ['expired'] },
};

function asWorkerTask(task: PeriodicTask, metrics: Metrics | undefined) {
  return async () => {
    try {
      const changes = await task.run();
      const counted = failuresCounted[task.name];
      if (counted && metrics) metrics.failed(counted.reason, counted.keys.reduce((n, key) => n + (changes[key] ?? 0), 0));
      if (Object.values(changes).some((n) => n > 0)) log.info(`maintenance: ${task.name}`, changes);
    } catch (error) {
      log.warn(`maintenance: ${task.name} failed`, errorFields(error));
    }
  };
}

export async function startMaintenance(
  config: Config,
  databaseUrl: string,
  db: DatabasePool,
  options: { version?: string; metrics?: Metrics } = {},
): Promise<Maintenance> {
  const periodic = periodicTasks(config, db);
  const periodicTaskList: TaskList = {};
  for (const task of periodic) periodicTaskList[task.name] = asWorkerTask(task, options.metrics);
  const webhookTaskList: TaskList = {
    [webhookTaskName]: webhookSender(db, {
      timeoutMs: config.MIA_WEBHOOK_TIMEOUT_MS,
      maxAttempts: config.MIA_WEBHOOK_MAX_ATTEMPTS,
      allowPrivate: config.MIA_WEBHOOK_ALLOW_PRIVATE,
      userAgent: `mia-webhook/${options.version ?? 'dev'}`,
    }),
  };

  const withName = (applicationName: string) => {
    const url = new URL(databaseUrl);
    if (!url.searchParams.has('application_name'))
      url.searchParams.set('application_name', applicationName);
    return url.toString();
  };
  const common = {
    maxPoolSize: config.MIA_WORKER_POOL_SIZE,
    // No cron: an empty list also stops graphile-worker reading a ./crontab file.
    parsedCronItems: [],
    // SIGTERM belongs to api/main.ts, which stops us through stop().
    noHandleSignals: true,
    logger: workerLogger,
  };
  const maintenance = await startSupervisedRunner('maintenance', {
    ...common,
    connectionString: withName('mia-worker'),
    concurrency: config.MIA_WORKER_CONCURRENCY,
    taskList: periodicTaskList,
  });
  const webhooks = await startSupervisedRunner('webhook', {
    ...common,
    connectionString: withName('mia-webhooks'),
    concurrency: config.MIA_WEBHOOK_CONCURRENCY,
    taskList: webhookTaskList,
  }).catch(async (error: unknown) => {
    await maintenance.stop();
    throw error;
  });

  let stopping = false;
  let scheduled = true;
  const schedule = async (task: PeriodicTask) => {
    if (!maintenance.up() || stopping) return;
    try {
      await maintenance
        .current()
        .addJob(task.name, {}, { jobKey: task.name, jobKeyMode: 'preserve_run_at', maxAttempts: 1 });
      scheduled = true;
    } catch (error) {
      if (scheduled)
        log.warn('maintenance: scheduling failed', { task: task.name, ...errorFields(error) });
      scheduled = false;
    }
  };
  const timers = periodic.map((task) => {
    void schedule(task);
    const timer = setInterval(() => void schedule(task), task.intervalMs);
    timer.unref();
    return timer;
  });
  log.info('maintenance worker started', {
    tasks: [...Object.keys(periodicTaskList), ...Object.keys(webhookTaskList)],
    reap_interval_ms: config.MIA_REAP_INTERVAL_MS,
    webhook_concurrency: config.MIA_WEBHOOK_CONCURRENCY,
  });

  let stopped: Promise<void> | undefined;
  return {
    healthy: () => maintenance.up() && webhooks.up() && scheduled && !stopping,
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        for (const timer of timers) clearInterval(timer);
        // Waits for running tasks (a webhook in flight is aborted and retried later).
        await Promise.all([maintenance.stop(), webhooks.stop()]);
      })();
      return stopped;
    },
  };
}
