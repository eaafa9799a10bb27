// One graphile-worker runner that is started again if it ever ends on its own.
// graphile-worker reconnects by itself after a database restart; this is the
// net under that.
import pg from 'pg';
import { run, type Runner, type RunnerOptions } from 'graphile-worker';
import { errorFields, log } from '../log.ts';

export type SupervisedRunner = {
  /** The runner now running (a restart replaces it). */
  current: () => Runner;
  /** False between an unexpected end and the restart. */
  up: () => boolean;
  /** Stop for good; running jobs finish (a webhook in flight is aborted and retried later). */
  stop: () => Promise<void>;
};

const restartDelayMs = 5000;

/**
 * The runner's own pool, whose clients always have an 'error' listener. graphile-worker's
 * pool listens only while its runner runs: a connection the server terminates just as the
 * runner stops (a client it was still opening or handing back) then emitted an 'error'
 * nobody heard, which ends the whole API process (the chaos test
 * test/chaos/dbConnectionsKilled.test.ts, once in a full run). The failed query itself still
 * fails where it was sent; these listeners only keep the process alive. Ended with its runner.
 */
function runnerPool(name: string, connectionString: string, max: number | undefined): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  const heard = (error: Error) => log.warn(`${name} worker connection error`, errorFields(error));
  pool.on('error', heard);
  pool.on('connect', (client) => client.on('error', heard));
  return pool;
}

export async function startSupervisedRunner(
  name: string,
  options: Omit<RunnerOptions, 'pgPool' | 'connectionString'> & { connectionString: string },
): Promise<SupervisedRunner> {
  // graphile-worker 0.18 completes and fails jobs without awaiting the query unless
  // they are batched: a connection cut at that moment becomes an unhandled rejection,
  // which ends the whole API process. Batched (delay 0: whatever finished in the same
  // tick), a failure goes to its handler, which stops the pool; the restart below
  // brings it back. test/maintenance/workerConnectionLoss.test.ts shows both.
  const { connectionString, ...rest } = options;
  const launch = async () => {
    const pool = runnerPool(name, connectionString, options.maxPoolSize);
    const started = await run({
      ...rest,
      pgPool: pool,
      preset: {
        ...options.preset,
        worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0, ...options.preset?.worker },
      },
    }).catch(async (error: unknown) => {
      await pool.end().catch(() => {});
      throw error;
    });
    // However the runner ends, its pool goes with it (a restart makes a new one).
    const endPool = () => pool.end().catch(() => {});
    started.promise.then(endPool, endPool);
    return started;
  };
  let runner: Runner = await launch();
  let stopping = false;
  let up = true;
  let restartTimer: NodeJS.Timeout | undefined;

  const supervise = (current: Runner) => {
    current.promise.then(
      () => !stopping && restart(new Error('worker stopped unexpectedly')),
      (error: unknown) => !stopping && restart(error),
    );
  };
  const restart = (error: unknown) => {
    up = false;
    log.error(`${name} worker stopped; restarting`, errorFields(error));
    restartTimer = setTimeout(() => {
      launch()
        .then((next) => {
          if (stopping) return next.stop();
          runner = next;
          up = true;
          supervise(next);
          log.info(`${name} worker restarted`);
        })
        .catch((launchError: unknown) => {
          if (!stopping) restart(launchError);
        });
    }, restartDelayMs);
    restartTimer.unref();
  };
  supervise(runner);

  let stopped: Promise<void> | undefined;
  return {
    current: () => runner,
    up: () => up && !stopping,
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        clearTimeout(restartTimer);
        if (up) await runner.stop();
      })();
      return stopped;
    },
  };
}
