// GET /, /health, /metrics (JSON, or Prometheus text from api/metrics/registry.ts).
import type { Router, Request } from 'express';
import type { AppContext } from '../context.ts';
import { knownMigrations } from '../db/migrate.ts';
import { metrics } from '../store/metrics.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';

// Prometheus asks for `application/openmetrics-text;version=1.0.0,…,
// text/plain;version=0.0.4;q=0.5,*/*;q=0.1`. Content negotiation only matches an
// Accept entry with parameters against an offer with the same parameters, so
// the text format is offered both with and without `version=0.0.4`: offering
// plain `text/plain` alone, the scrape's `*/*;q=0.1` picked JSON. JSON stays
// first, so `*/*` and no Accept get JSON; a client that accepts neither (only
// OpenMetrics, say) is a scraper, and gets the text format.
const offers = ['application/json', 'text/plain; version=0.0.4', 'text/plain'];

function wantsPrometheusText(format: unknown, req: Request): boolean {
  if (format === 'prometheus') return true;
  if (format === 'json') return false;
  const chosen = req.accepts(offers);
  return chosen !== 'application/json';
}

export function systemRoutes(ctx: AppContext, router: Router): Router {
  const expected = knownMigrations();

  router.get('/', (_req, res) => {
    res.json({ service: 'mia', status: 'ok', version: ctx.version, docs: '/docs' });
  });

  router.get('/health', async (_req, res) => {
    const listener = ctx.listener.connected ? 'connected' : 'reconnecting';
    // Reported, not part of readiness: requests are served without the worker
    // (another replica may run it); mia.stuck_jobs shows what it leaves behind.
    const worker =
      ctx.maintenance === null ? 'off' : ctx.maintenance.healthy() ? 'running' : 'failing';
    try {
      const applied = await metrics.migrationsApplied(ctx.db);
      const pending = expected.filter((name) => !applied.includes(name));
      const ok = pending.length === 0 && !ctx.draining;
      res.status(ok ? 200 : 503).json({
        status: ok ? 'ok' : 'unavailable',
        database: 'ok',
        migrations: { applied: applied.length, expected: expected.length, pending },
        listener,
        worker,
        version: ctx.version,
      });
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      res.status(503).json({
        status: 'unavailable',
        database: 'unreachable',
        migrations: { applied: 0, expected: expected.length },
        listener,
        worker,
        version: ctx.version,
      });
    }
  });

  router.get('/metrics', async (req, res) => {
    const snapshot = await metrics.snapshot(ctx.db);
    const parked = { job_next: ctx.dispatcher.parked, job_results: ctx.completions.parked };
    if (wantsPrometheusText(req.query.format, req)) {
      ctx.metrics.setSnapshot(snapshot, parked);
      res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
      return;
    }
    res.json({ ...snapshot, parked_long_polls: parked });
  });

  return router;
}
