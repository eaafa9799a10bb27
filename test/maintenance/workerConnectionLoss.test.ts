// graphile-worker 0.18 marks a finished job complete without awaiting it (worker.js:
// `completeJob(job)`), so when the connection it completes on has just been cut the
// rejection is unhandled, and Node ends the API process (seen in the chaos suite:
// "Client has encountered a connection error and is not queryable" from
// batchCompleteJobs). The supervised runner must survive that: a lost connection
// costs at most a restart of the worker, never the process.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from 'graphile-worker';
import { startSupervisedRunner } from '../../api/maintenance/supervisedRunner.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { eventually } from '../miner/helpers.ts';

describe('graphile-worker losing its connection as a job completes', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    database = await createTestDatabase();
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await database?.drop();
  });

  it('keeps the process (no unhandled rejection) and runs jobs again after the cut', async () => {
    const url = new URL(database.url);
    url.searchParams.set('application_name', 'mia-worker-cut');
    let ran = 0;
    const runner = await startSupervisedRunner('cut-test', {
      connectionString: url.toString(),
      concurrency: 1,
      maxPoolSize: 2,
      noHandleSignals: true,
      parsedCronItems: [],
      logger: quietLogger(),
      taskList: {
        // Cuts the worker's own connections, then returns at once: the completion
        // that follows meets a client whose connection is going away.
        cut: async () => {
          ran += 1;
          await withClient(database.url, (c) =>
            c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mia-worker-cut'`),
          );
        },
        plain: async () => {
          ran += 1;
        },
      },
    });
    try {
      for (let i = 0; i < 15; i++) {
        await eventually(() => runner.up() || undefined, 20_000, () => 'the worker back up');
        await runner.current().addJob('cut', {}).catch(() => {});
        await sleep(150);
      }
      await sleep(500);
      assert.deepEqual(unhandled.map(String), [], 'an unhandled rejection would have ended the API process');
      // And the worker still works: a plain job runs.
      const before = ran;
      await eventually(async () => {
        if (!runner.up()) return undefined;
        await runner.current().addJob('plain', {}).catch(() => {});
        await sleep(200);
        return ran > before || undefined;
      }, 30_000, () => 'a job run after the cuts');
    } finally {
      await runner.stop();
    }
  });
});

function quietLogger() {
  // graphile-worker logs every cut connection; the test looks at outcomes only.
  return new Logger(() => () => {});
}
