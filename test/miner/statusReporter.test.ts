// What the backend hears from the status reporter: transitions, not jobs. A miner
// that goes from one job straight to the next stays busy; it reports idle only once
// it has held no job for a while, and a change made while a report is on its way is
// sent right after it.
import assert from 'node:assert/strict';
import type { MinerStatus } from '../../miner/backend/backendClient.ts';
import { createLogger } from '../../miner/lib/log.ts';
import { StatusReporter } from '../../miner/backend/statusReporter.ts';
import { eventually } from './helpers.ts';

function reporterWith(options: { idleAfterMs: number; delayMs?: number }) {
  const sent: MinerStatus[] = [];
  const reporter = new StatusReporter({
    backend: {
      reportStatus: async (_minerId, status) => {
        sent.push(status);
        if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        return { status };
      },
    },
    minerId: 'm1',
    logger: createLogger({ level: 'error', sink: () => {} }),
    idleHeartbeatMs: 60_000,
    maxBusyHeartbeatMs: 60_000,
    idleAfterMs: options.idleAfterMs,
  });
  return { sent, reporter };
}

const lease = () => new Date(Date.now() + 600_000).toISOString();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('status reporter', () => {
  it('reports busy once for back-to-back jobs and idle only after idleAfterMs without one', async () => {
    const { sent, reporter } = reporterWith({ idleAfterMs: 200 });
    reporter.start();
    await eventually(() => sent.length === 1);
    for (let i = 0; i < 20; i += 1) {
      reporter.jobStarted(lease(), `lease-${i}`);
      await pause(5);
      reporter.jobFinished(`lease-${i}`);
      await pause(5);
    }
    await pause(50);
    assert.deepEqual(sent, ['idle', 'busy'], 'no status post per job');
    await eventually(() => sent.length === 3, 2000);
    assert.deepEqual(sent, ['idle', 'busy', 'idle']);
    await reporter.close();
  });

  it('sends a change that happened while the previous report was on its way', async () => {
    const { sent, reporter } = reporterWith({ idleAfterMs: 0, delayMs: 100 });
    reporter.start();
    await pause(20); // the first report (idle) is on its way
    reporter.jobStarted(lease(), 'lease-a');
    await eventually(
      () => sent.length === 2,
      1000,
      () => sent.join(', '),
    );
    assert.deepEqual(sent, ['idle', 'busy']);
    await reporter.close();
  });

  it('reports offline and draining at once', async () => {
    const { sent, reporter } = reporterWith({ idleAfterMs: 60_000 });
    reporter.start();
    await eventually(() => sent.length === 1);
    reporter.jobStarted(lease(), 'lease-a');
    await eventually(() => sent.length === 2);
    reporter.setOffline('llama-server crashed');
    await eventually(() => sent.length === 3, 1000);
    reporter.setDraining();
    await eventually(() => sent.length === 4, 1000);
    assert.deepEqual(sent, ['idle', 'busy', 'offline', 'draining']);
    await reporter.close();
  });

  it('passes the leases the backend says are lost to the job loop, only those it still runs', async () => {
    const lost: string[][] = [];
    const reporter = new StatusReporter({
      backend: {
        reportStatus: async (_minerId, status, _signal, _reason, running = []) =>
          ({ status, leases_lost: running.includes('lease-cancelled') ? ['lease-cancelled', 'lease-unknown'] : [] }),
      },
      minerId: 'm1',
      logger: createLogger({ level: 'error', sink: () => {} }),
      idleHeartbeatMs: 60_000,
      maxBusyHeartbeatMs: 60_000,
      idleAfterMs: 0,
      onLeasesLost: (tokens) => lost.push(tokens),
    });
    reporter.start();
    reporter.jobStarted(lease(), 'lease-kept');
    reporter.jobStarted(lease(), 'lease-cancelled');
    await eventually(() => lost.length === 1, 2000);
    assert.deepEqual(lost, [['lease-cancelled']]);
    await reporter.close();
  });
});
