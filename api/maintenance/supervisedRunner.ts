// One graphile-worker runner that is started again if it ever ends on its own.
// graphile-worker reconnects by itself after a database restart; this is the
// net under that.
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

export async function startSupervisedRunner(
  name: string,
  options: RunnerOptions,
): Promise<SupervisedRunner> {
  // graphile-worker 0.18 completes and fails jobs without awaiting the query unless
  // they are batched: a connection cut at that moment becomes an unhandled rejection,
  // which ends the whole API process. Batched (delay 0: whatever finished in the same
  // tick), a failure goes to its handler, which stops the pool; the restart below
  // brings it back. test/maintenance/workerConnectionLoss.test.ts shows both.
  const launch = () =>
    run({
      ...options,
      preset: {
        ...options.preset,
        worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0, ...options.preset?.worker },
      },
    });
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
