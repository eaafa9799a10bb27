// One API process: pool, LISTEN connection, parked long-polls, HTTP server.
// Used by api/main.ts, by the tests (in-process) and by the benchmarks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Config } from './config.ts';
import { claimSettings, type AppContext } from './context.ts';
import { createDatabasePool } from './db/pool.ts';
import { PrincipalResolver } from './auth/principal.ts';
import { ClaimDispatcher } from './queue/claimDispatcher.ts';
import { CompletionWaiters } from './queue/completionWaiters.ts';
import { NotificationListener } from './queue/notificationListener.ts';
import { createApp } from './app.ts';
import { applyServerLimits, connectionsCheckingIntervalMs } from './http/serverLimits.ts';
import { StreamHub } from './streaming/streamHub.ts';
import { StreamFallback } from './streaming/streamFallback.ts';
import { DeltaNotifier } from './streaming/deltaNotifier.ts';
import { startMaintenance } from './maintenance/startMaintenance.ts';
import { log } from './log.ts';
import { createMetrics } from './metrics/registry.ts';

export type RunningServer = {
  url: string;
  port: number;
  ctx: AppContext;
  /** Graceful stop: refuse new work, answer parked long-polls, finish in-flight requests, close pools. */
  close: () => Promise<void>;
};

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function startServer(config: Config, options: { databaseUrl: string; adminToken: string }): Promise<RunningServer> {
  const db = await createDatabasePool(options.databaseUrl, { size: config.MIA_DB_POOL_SIZE, applicationName: 'mia-api' });
  const dispatcher = new ClaimDispatcher(db, () => claimSettings(config));
  const completions = new CompletionWaiters(db);
  const hub = new StreamHub();
  const notifier = new DeltaNotifier(db, hub, config.MIA_STREAM_NOTIFY_MS);
  const listener = new NotificationListener(options.databaseUrl, {
    onJobQueued: () => dispatcher.wake(),
    onJobFinished: (jobId) => {
      completions.finished(jobId);
      hub.wake(jobId);
    },
    onJobDelta: (payload) => notifier.received(payload),
    onResync: () => {
      dispatcher.wake();
      void completions.resync();
      hub.wakeAll();
    },
  });
  const ctx: AppContext = {
    config,
    db,
    principals: new PrincipalResolver(db, options.adminToken, config.MIA_AUTH_CACHE_SECONDS),
    dispatcher,
    completions,
    listener,
    streams: { hub, notifier },
    maintenance: null,
    draining: false,
    version,
    metrics: createMetrics(),
  };

  try {
    await listener.start();
  } catch (error) {
    await db.end();
    throw error;
  }
  // The safety net for a NOTIFY lost in transit: a slow re-check of both kinds of waiters.
  // Streams: one statement for all of this process's streams, waking only those whose job moved.
  const streamFallback = new StreamFallback(db, hub);
  const fallback = setInterval(() => {
    dispatcher.wake();
    void completions.resync();
    void streamFallback.check();
  }, config.MIA_FALLBACK_POLL_MS);
  fallback.unref();

  const server = http.createServer({ connectionsCheckingInterval: connectionsCheckingIntervalMs(config) }, createApp(ctx));
  // Responses still to be written when SIGTERM comes: each is marked
  // Connection: close, so its keep-alive socket ends with it and close() does not
  // wait out keepAliveTimeout. (Requests arriving while draining: see app.ts.)
  const unanswered = new Set<http.ServerResponse>();
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });
  applyServerLimits(server, config);
  // If start-up fails past this point, undo what was started (in reverse order).
  const abandon = async (listening: boolean) => {
    clearInterval(fallback);
    if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await listener.stop();
    await db.end();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await abandon(false);
    throw error;
  }
  // Last, so nothing started before it can fail and leave the worker running.
  if (config.MIA_WORKER) {
    try {
      ctx.maintenance = await startMaintenance(config, options.databaseUrl, db, { version, metrics: ctx.metrics });
    } catch (error) {
      await abandon(true);
      throw error;
    }
  }
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ctx.draining = true;
      for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Parked long-polls end now (204 / 202); idle keep-alive sockets are closed.
      dispatcher.releaseAll();
      completions.releaseAll();
      // Streams end with a `shutting_down` error; clients resume elsewhere with Last-Event-ID.
      hub.wakeAll();
      server.closeIdleConnections();
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.MIA_SHUTDOWN_TIMEOUT_MS).unref());
      if ((await Promise.race([closed, timeout])) === 'timeout') {
        log.warn('shutdown timeout: closing remaining connections');
        server.closeAllConnections();
        await closed;
      }
      clearInterval(fallback);
      notifier.stop();
      // Its tasks use the main pool: the worker stops first.
      await ctx.maintenance?.stop();
      await listener.stop();
      await db.end();
    })();
    return closing;
  };

  return { url: `http://${host}:${port}`, port, ctx, close };
}
