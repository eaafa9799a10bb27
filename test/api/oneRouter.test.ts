// The API's routes live on one Express router (api/app.ts). Express 5's router passes a
// request it does not match on after a setImmediate, so every router a request enters
// and leaves unmatched costs it an event-loop turn: with a router per route module,
// GET /job/next and POST /job/result waited seven turns before their handler ran.
import assert from 'node:assert/strict';
import type { Express } from 'express';
import { createApp } from '../../api/app.ts';
import { useTestApi } from '../support/apiServer.ts';

type Layer = { name: string; handle: { stack?: unknown[] } };
const routerLayers = (app: Express) =>
  (app.router as unknown as { stack: Layer[] }).stack.filter((layer) => Array.isArray(layer.handle.stack));

describe('one router for the API', () => {
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  it('a request enters at most one router on its way to its handler', () => {
    const app = createApp(api.server.ctx);
    // Docs and console are entered only for their own paths (onlyFor), so they are no router layer here.
    assert.equal(routerLayers(app).length, 1, 'the route modules share one router');
  });

  it('still serves every kind of route: API, docs, console, and our 404', async () => {
    assert.equal((await api.request('GET', '/health')).status, 200);
    assert.equal((await api.request('GET', '/openapi.yaml')).status, 200);
    assert.equal((await api.request('GET', '/console')).status, 200);
    const missing = await api.request('GET', '/docs-not-here/x');
    assert.equal(missing.status, 404);
    assert.match(JSON.stringify(missing.body), /not found|no route/i);
  });
});
