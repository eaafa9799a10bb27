// The miner's per-request deadline (miner/lib/deadline.ts): it must fire after a
// garbage collection and must not leave anything attached to the long-lived
// signals (shutdown, drain) the miner passes to every request.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { collectGarbage, dependantsOf } from '../support/signals.ts';
import { deadline } from '../../miner/lib/deadline.ts';
import { BackendClient } from '../../miner/backend/backendClient.ts';

describe('miner request deadline', () => {
  it('fires its timeout after a garbage collection while the parent signal lives on', async () => {
    const parent = new AbortController();
    const limit = deadline(50, parent.signal);
    const fired = new Promise<void>((resolve) => limit.signal.addEventListener('abort', () => resolve()));
    for (let i = 0; i < 5; i += 1) collectGarbage();
    await fired;
    assert.equal(limit.timedOut, true);
    assert.equal((limit.signal.reason as Error).name, 'TimeoutError');
    limit.dispose();
  });

  it('aborts when the parent aborts and says it did not time out', () => {
    const parent = new AbortController();
    const limit = deadline(60_000, parent.signal);
    parent.abort(new Error('drain deadline'));
    assert.equal(limit.signal.aborted, true);
    assert.equal(limit.timedOut, false);
    limit.dispose();
  });

  it('leaves no listener on the parent after 10,000 settled requests', () => {
    const parent = new AbortController();
    for (let i = 0; i < 10_000; i += 1) deadline(60_000, parent.signal).dispose();
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
    assert.equal(dependantsOf(parent.signal), 0);
  });

  it('keeps nothing on the shutdown signal across many backend requests', async () => {
    const server = http.createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const shutdown = new AbortController();
    const client = new BackendClient({ baseUrl: `http://127.0.0.1:${port}` });
    try {
      for (let i = 0; i < 200; i += 1) await client.claim('m', 0, shutdown.signal);
      assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
      assert.equal(dependantsOf(shutdown.signal), 0, 'combined signals kept alive by the shutdown signal');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
