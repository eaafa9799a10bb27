// The maintenance worker: graphile-worker (its own schema, graphile_worker, in
// the same database, and its own small pool) running the tasks of this folder.
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
// Webhook jobs are added by a trigger (migrations/0003) and do use
// graphile-worker's retries.
import { run, type Runner, type TaskList } from 'graphile-worker';
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

export type Maintenance = {
  /** Stop scheduling, let running tasks finish, close the worker's pool. Call before the main pool closes. */
  stop: () => Promise<void>;
  /** False while the worker is down or its last scheduling attempt failed (database unreachable). */
  healthy: () => boolean;
};

const restartDelayMs = 5000;

function periodicTasks(config: Config, db: DatabasePool): PeriodicTask[] {
  const tasks = [
    leaseReaper(db, { intervalMs: config.MIA_REAP_INTERVAL_MS, ...leaseReaperDefaults }),
    minerOfflineMarker(db, {
      intervalMs: config.MIA_MINER_CHECK_INTERVAL_MS,
      offlineAfterSeconds: config.MIA_MINER_OFFLINE_AFTER_SECONDS,
    }),
    metricsRollup(db, {
      intervalMs: config.MIA_METRICS_ROLLUP_INTERVAL_MS,
      ...metricsRollupDefaults,
    }),
  ];
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

function asWorkerTask(task: PeriodicTask) {
  return async () => {
    try {
      const changes = await task.run();
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
  options: { version?: string } = {},
): Promise<Maintenance> {
  const periodic = periodicTasks(config, db);
  const taskList: TaskList = {
    [webhookTaskName]: webhookSender(db, {
      timeoutMs: config.MIA_WEBHOOK_TIMEOUT_MS,
      maxAttempts: config.MIA_WEBHOOK_MAX_ATTEMPTS,
      allowPrivate: config.MIA_WEBHOOK_ALLOW_PRIVATE,
      userAgent: `mia-webhook/${options.version ?? 'dev'}`,
    }),
  };
  for (const task of periodic) taskList[task.name] = asWorkerTask(task);

  const withName = new URL(databaseUrl);
  if (!withName.searchParams.has('application_name'))
    withName.searchParams.set('application_name', 'mia-worker');
  const launch = () =>
    run({
      connectionString: withName.toString(),
      maxPoolSize: config.MIA_WORKER_POOL_SIZE,
      concurrency: config.MIA_WORKER_CONCURRENCY,
      taskList,
      // No cron: an empty list also stops graphile-worker reading a ./crontab file.
      parsedCronItems: [],
      // SIGTERM belongs to api/main.ts, which stops us through stop().
      noHandleSignals: true,
      logger: workerLogger,
    });

  let runner: Runner = await launch();
  let stopping = false;
  let workerUp = true;
  let scheduled = true;
  let restartTimer: NodeJS.Timeout | undefined;

  // graphile-worker reconnects by itself after a database restart; this is the
  // net under that: if the runner ever ends on its own, start a new one.
  const supervise = (current: Runner) => {
    current.promise.then(
      () => !stopping && restart(new Error('worker stopped unexpectedly')),
      (error: unknown) => !stopping && restart(error),
    );
  };
  const restart = (error: unknown) => {
    workerUp = false;
    log.error('maintenance worker stopped; restarting', errorFields(error));
    restartTimer = setTimeout(() => {
      launch()
        .then((next) => {
          if (stopping) return next.stop();
          runner = next;
          workerUp = true;
          supervise(next);
          log.info('maintenance worker restarted');
        })
        .catch((launchError: unknown) => {
          if (!stopping) restart(launchError);
        });
    }, restartDelayMs);
    restartTimer.unref();
  };
  supervise(runner);

  const schedule = async (task: PeriodicTask) => {
    if (!workerUp || stopping) return;
    try {
      await runner.addJob(
        task.name,
        {},
        { jobKey: task.name, jobKeyMode: 'preserve_run_at', maxAttempts: 1 },
      );
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
    tasks: Object.keys(taskList),
    reap_interval_ms: config.MIA_REAP_INTERVAL_MS,
  });

  let stopped: Promise<void> | undefined;
  return {
    healthy: () => workerUp && scheduled && !stopping,
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        for (const timer of timers) clearInterval(timer);
        clearTimeout(restartTimer);
        // Waits for running tasks (a webhook in flight is aborted and retried later).
        if (workerUp) await runner.stop();
      })();
      return stopped;
    },
  };
}
